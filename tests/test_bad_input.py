"""Bad input gives a message that names the argument, never a silent clip, NaN or crash."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import neurons, rules, structure
from spars.learning import mean_cross_entropy, per_step_cross_entropy


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: neurons.LIF(3, tau_mem=0.0), "tau_mem must be finite and > 0"),
        (lambda: neurons.LIF(3, tau_mem=-5.0), "tau_mem"),
        (lambda: neurons.LIF(3, dt=0.0), "dt must be"),
        (lambda: neurons.LIF(3, tau_refrac=-1.0), "tau_refrac must be finite and >= 0"),
        (lambda: neurons.LIF(3, v_reset=1.0, v_thresh=1.0), "v_reset .* must lie below v_thresh"),
        (lambda: neurons.ALIF(3, tau_adapt=0.0), "tau_adapt"),
        (lambda: neurons.ConductanceLIF(3, tau_mem=jnp.nan), "tau_mem"),
        (lambda: neurons.LeakyIntegrator(3, tau_mem=0.0), "tau_mem"),
        (lambda: neurons.PoissonSource(3, rate=-1.0), "rate must be finite and >= 0"),
        (lambda: neurons.PoissonSource(3, rate=20000.0, dt=0.1), r"rate \* dt = 2 spikes"),
        (lambda: neurons.PoissonSource(3, rate=jnp.array([5.0, 10.0, 1e4])), "rate"),
    ],
)
def test_neuron_parameters_are_checked_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_valid_neurons_still_build_and_traced_parameters_are_left_to_run_time():
    assert neurons.PoissonSource(3, rate=999.0).rate == 999.0  # 0.999 per step
    tau = jax.jit(lambda t: neurons.LIF(3, tau_mem=t).tau_mem)(jnp.float32(10.0))
    assert float(tau) == 10.0


def small_projection():
    conn = spars.fixed_probability(jax.random.key(0), 10, 10, p=0.3, headroom=2.0)
    return conn, jnp.where(conn.mask, 1.0, 0.0)


def test_networks_refuse_mixed_time_steps_nan_weights_and_negative_steps():
    conn, w = small_projection()
    pops = {"a": neurons.PoissonSource(10, dt=0.1), "b": neurons.LIF(10, dt=1.0)}
    with pytest.raises(ValueError, match="share one time step dt"):
        spars.Network(populations=pops, projections={"p": spars.Projection("a", "b", conn, w)})
    with pytest.raises(ValueError, match="weights must be finite"):
        spars.Projection("a", "b", conn, w.at[0, 0].set(jnp.nan))
    net = spars.Network(populations={"a": neurons.PoissonSource(10), "b": neurons.LIF(10)},
                        projections={"p": spars.Projection("a", "b", conn, w)})  # fmt: skip
    with pytest.raises(ValueError, match="n_steps must be an int >= 0"):
        spars.simulate(net, net.init(jax.random.key(0)), n_steps=-1)
    assert spars.simulate(net, net.init(jax.random.key(0)), n_steps=0)[1]["b"].shape == (0, 10)


@pytest.mark.parametrize("loss", [mean_cross_entropy, per_step_cross_entropy])
def test_labels_out_of_range_raise_eagerly_and_under_jit(loss):
    y = jnp.zeros((4, 2, 3))
    for labels in (jnp.array([0, 3]), jnp.array([-1, 0])):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
            loss(y, labels)
        with pytest.raises(Exception, match=r"labels must lie in \[0, 3\)"):
            eqx.filter_jit(loss)(y, labels)
    with pytest.raises(ValueError, match="labels must be integers"):
        loss(y, jnp.array([0.0, 1.0]))
    assert float(jax.jit(loss)(y, jnp.array([0, 2]))) == pytest.approx(np.log(3))


def test_fractions_outside_0_1_raise_never_clip():
    conn, w = small_projection()
    key = jax.random.key(0)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="zeta must lie in"):
            rules.set_rewire(key, conn, w, zeta=bad)
        with pytest.raises(ValueError, match="zeta must lie in"):
            rules.rigl(key, conn, w, jnp.ones(conn.shape), zeta=bad)
        with pytest.raises(ValueError, match="sparsity must lie in"):
            rules.magnitude_prune(key, conn, w, sparsity=bad)
    prune = eqx.filter_jit(lambda s: rules.magnitude_prune(key, conn, w, sparsity=s)[2].removed)
    with pytest.raises(Exception, match="sparsity must lie in"):
        prune(jnp.float32(jnp.nan))
    assert int(prune(jnp.float32(1.0))) == int(conn.n_synapses)


def test_builders_under_jit_or_vmap_say_why_they_cannot():
    with pytest.raises(ValueError, match=r"fixed_probability got traced \['key', 'p'\]"):
        jax.jit(lambda p: spars.fixed_probability(jax.random.key(0), 10, 10, p=p))(0.1)
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match=r"fixed_number_post got traced \['key'\]"):
        jax.vmap(lambda k: spars.fixed_number_post(k, 10, 10, 3).indices)(keys)


def test_indices_are_never_truncated_and_slot_minus_one_is_not_the_last_slot():
    with pytest.raises(ValueError, match="indices and row_length must be integers"):
        spars.Connectivity(jnp.array([[0.7, 1.2]]), jnp.array([2]), 3)
    conn = spars.fixed_number_post(jax.random.key(1), 6, 8, 4)  # full rows: slot 3 is real
    w = jnp.where(conn.mask, 1.0, 0.0)
    with pytest.raises(ValueError, match="pre must be integers"):
        structure.add_pairs(conn, jnp.array([0.9]), jnp.array([1]), w, 1.0)
    with pytest.raises(ValueError, match="slot must be integers"):
        structure.remove_listed(conn, jnp.array([0]), jnp.array([1.0]), w)
    _, _, removed = structure.remove_listed(conn, jnp.array([0, 1]), jnp.array([-1, 4]), w)
    assert int(removed) == 0


def test_fractional_values_for_integer_variables_raise():
    conn, w = small_projection()
    delays = jnp.where(conn.mask, 2, 0).astype(jnp.int32)
    pre, post = jnp.array([0]), jnp.array([9])
    with pytest.raises(ValueError, match="fractional but the variable is int32"):
        structure.add_pairs(conn, pre, post, {"w": w, "d": delays}, {"w": 1.0, "d": 2.5})
    _, v, stats = structure.add_pairs(conn, pre, post, {"w": w, "d": delays}, {"w": 1.0, "d": 3.0})
    assert int(stats.added) + int(stats.rejected) == 1
    with pytest.raises(Exception, match="fractional but the variable is int32"):
        rules.set_rewire(jax.random.key(0), conn, w.astype(jnp.int32), zeta=0.3, new_weight=0.5)


def test_column_view_of_a_projection_with_no_targets_is_empty():
    view = spars.column_view(spars.empty(5, 0, 3))
    assert view.pre.shape == (0, 0) and int(view.overflow) == 0


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0, 3), (5, 4, 0)])
def test_every_rule_accepts_an_empty_projection_and_returns_it_valid(shape):
    conn, key = spars.empty(*shape), jax.random.key(0)
    w = jnp.zeros(conn.indices.shape)
    v = rules.deep_r_init(key, conn, w)
    results = [
        rules.rigl(key, conn, w, lambda pre, post: jnp.ones(pre.shape), zeta=0.3),
        rules.rigl(key, conn, w, jnp.ones(conn.shape), zeta=0.3),
        rules.set_rewire(key, conn, w, zeta=0.3),
        rules.deep_r(key, conn, v),
        rules.deep_r_rigl(key, conn, v, jnp.ones(conn.shape)),
        rules.magnitude_prune(key, conn, w, sparsity=0.5),
    ]
    for new, _, stats in results:
        spars.validate(new)
        assert new.indices.shape == conn.indices.shape and int(stats.added) == 0
    assert spars.column_view(conn).pre.shape[0] == conn.n_post


def test_topographic_on_rows_without_capacity_reports_every_formation_as_failed():
    kw = dict(pre_shape=(4, 4), post_shape=(4, 4), n_candidates=8, p_form=1.0, sigma=10.0,
              p_elim_dep=0.1, p_elim_pot=0.0, threshold=0.1, new_weight=0.1)  # fmt: skip
    conn = spars.empty(16, 16, 0)
    new, _, stats = rules.topographic(jax.random.key(0), conn, jnp.zeros((16, 0)), **kw)
    assert int(stats.added) == 0 and int(stats.failed) > 0 and new.max_row == 0
    kw.update(pre_shape=(0, 0), post_shape=(0, 0))
    _, _, stats = rules.topographic(
        jax.random.key(0), spars.empty(0, 0, 3), jnp.zeros((0, 3)), **kw
    )
    assert int(stats.removed) == int(stats.added) == 0


def test_events_on_a_step_boundary_are_binned_into_that_step():
    from spars._bins import time_steps
    from spars.data import SpikeDataset

    times = np.array([0.3, 0.7, 2.9999, 1.0, 0.0])
    np.testing.assert_array_equal(time_steps(times, 0.1), [3, 7, 29, 10, 0])
    t32 = (np.arange(1, 20001) * 0.1).astype(np.float32)  # every boundary up to 2 s, float32
    np.testing.assert_array_equal(time_steps(t32, 0.1), np.arange(1, 20001))
    train = neurons.SpikeTrain.from_events([0.3, 0.25], [0, 1], n=2, dt=0.1, n_steps=5)
    assert float(train.spikes[3, 0]) == 1 and float(train.spikes[2, 1]) == 1
    data = SpikeDataset(times=np.array([0.3], np.float32), units=np.array([1], np.int32),
                        offsets=np.array([0, 1]), labels=np.array([0], np.int32), n_units=2,
                        n_classes=1, duration=1.0)  # fmt: skip
    assert data.frames([0], 0.1)[3, 0, 1] == 1
