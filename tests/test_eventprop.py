"""EventPropSNN's simulation against the exact solution; bad input; jit, vmap, optax."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spars import neurons
from spars.learning import (
    DenseSynapses,
    RecurrentSNN,
    SparseSynapses,
    mean_cross_entropy,
    trainable,
)
from spars.learning.eventprop import ActivityFloor, EventPropSNN, eventprop_grads
from tests.eventprop_nets import CELL, random_rows

TAU_M, TAU_S, THETA, W = 10.0, 2.0, 1.0, 1.1


def _exact_crossing(t_arrival):
    """First t with W * P21(t - t_arrival) = THETA (c_mem = 1), by bisection [ms]."""

    def v(t):
        s = t - t_arrival
        return W * TAU_S * TAU_M / (TAU_M - TAU_S) * (np.exp(-s / TAU_M) - np.exp(-s / TAU_S))

    peak = t_arrival + TAU_S * TAU_M / (TAU_M - TAU_S) * np.log(TAU_M / TAU_S)
    lo, hi = t_arrival, peak
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if v(mid) < THETA else (lo, mid)
    return lo, v


def _one_neuron(dt: float, delay_ms: float):
    cell = dict(CELL, tau_mem=TAU_M, tau_syn=TAU_S, dt=dt)
    conn = random_rows(np.random.default_rng(0), 1, 1, 1.0, max_row=1)
    w_in = SparseSynapses(conn, jnp.full((1, 1), W), delay=jnp.full((1, 1), delay_ms / dt),
                          max_delay=8)  # fmt: skip
    return EventPropSNN(w_in, None, jnp.zeros((1, 1)), jnp.zeros(1), neurons.CurrentLIF(1, **cell),
                        neurons.LeakyIntegrator(1, dt=dt))  # fmt: skip


def test_spike_times_and_resets_are_the_exact_solution_to_second_order_in_dt():
    """One input spike at t = 0 through a 0.137 ms delay: the spike time (the line's crossing)
    is off the exact one by at most the linear interpolation's dt^2 / 8 max|v''| / v', and
    the potential after the reset by that shift of the reset's decay."""
    t_exact, v = _exact_crossing(0.137)
    h = 1e-4
    slope = (v(t_exact + h) - v(t_exact - h)) / (2 * h)
    curvature = max(abs(v(t + h) - 2 * v(t) + v(t - h)) / h**2
                    for t in np.linspace(0.137 + h, t_exact + 0.1, 200))  # fmt: skip
    with jax.enable_x64(True):
        for dt in (0.1, 0.05, 0.02):
            steps = int(round(4.0 / dt))
            x = jnp.zeros((steps, 1, 1)).at[0].set(1.0)
            trace = eqx.filter_jit(lambda m, x: m.simulate(x))(_one_neuron(dt, 0.137), x)
            z, sigma = np.asarray(trace.spikes.z[:, 0, 0]), np.asarray(trace.spikes.sigma[:, 0, 0])
            (k,) = np.flatnonzero(z)  # one spike
            bound = dt**2 / 8 * curvature / slope
            assert abs((k + sigma[k]) * dt - t_exact) <= bound
            t_end = steps * dt  # the potential then: the free solution minus the decayed reset
            v_exact = v(t_end) - THETA * np.exp(-(t_end - t_exact) / TAU_M)
            assert abs(float(trace.v_free[-1, 0, 0]) - v_exact) <= THETA / TAU_M * bound
            assert float(trace.v_free[-1, 0, 0]) < THETA  # one spike, then below threshold


def test_a_neuron_still_above_threshold_fires_at_the_start_of_the_next_step():
    with jax.enable_x64(True):
        model = _one_neuron(1.0, 1.0)
        x = jnp.zeros((6, 1, 1)).at[0].set(12.0)  # 13 pA: far above threshold for two steps
        trace = eqx.filter_jit(lambda m, x: m.simulate(x))(model, x)
    z, sigma = trace.spikes.z[:, 0, 0], trace.spikes.sigma[:, 0, 0]
    fired = np.flatnonzero(np.asarray(z))
    assert len(fired) >= 2 and fired[1] == fired[0] + 1
    assert float(sigma[fired[1]]) == 0.0 and float(trace.spikes.inv_slope[fired[1], 0, 0]) == 0.0


def _small(key=0, n_in=5, n=12, n_out=3):
    rng = np.random.default_rng(key)
    cell = dict(CELL, tau_mem=20.0)
    return EventPropSNN(
        DenseSynapses(jnp.asarray(rng.normal(0.03, 0.08, (n_in, n)), jnp.float32)),
        SparseSynapses(conn := random_rows(rng, n, n, 0.3, n - 1),
                       jnp.where(conn.mask, jnp.asarray(rng.normal(0, 0.1, conn.indices.shape),
                                                        jnp.float32), 0.0)),
        jnp.asarray(rng.normal(0, 0.5, (n, n_out)), jnp.float32), jnp.zeros(n_out),
        neurons.CurrentLIF(n, **cell), neurons.LeakyIntegrator(n_out, tau_mem=20.0),
    )  # fmt: skip


def _inputs(key, t=40, batch=4, n_in=5):
    return (jax.random.uniform(jax.random.key(key), (t, batch, n_in)) < 0.15).astype(jnp.float32)


def test_jit_vmap_and_an_overflowing_record():
    model = _small()
    grad_fn = eqx.filter_jit(lambda m, x, max_spikes: eventprop_grads(
        m, x, jnp.array([0, 1, 2, 0]), max_spikes=max_spikes))  # fmt: skip
    xs = jnp.stack([_inputs(1), _inputs(2)])
    each = [grad_fn(model, x, 600)[0] for x in xs]
    both = eqx.filter_jit(jax.vmap(lambda x: eventprop_grads(
        model, x, jnp.array([0, 1, 2, 0]), max_spikes=600)[0]))(xs)  # fmt: skip
    for i in range(2):
        for a, b in zip(jax.tree.leaves(both), jax.tree.leaves(each[i]), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=2e-5, atol=1e-6)
    spikes = float(model.run(xs[0])[0].sum())
    assert spikes > 20
    with pytest.raises(Exception, match="raise max_spikes"):
        jax.block_until_ready(grad_fn(model, xs[0], 10))


def test_trains_with_optax():
    """Two classes told apart by which three of six input channels fire: Adam on EventProp's
    gradients learns them."""
    model, labels = _small(3, n_in=6, n_out=2), jnp.arange(8) % 2
    rng = np.random.default_rng(0)
    x = np.zeros((40, 8, 6), np.float32)
    for b, c in enumerate(np.asarray(labels)):
        for channel in range(3 * c, 3 * c + 3):
            x[rng.choice(30, 3, replace=False), b, channel] = 1.0
    opt = optax.adam(0.03)
    state = opt.init(eqx.filter(model, trainable(model)))

    @eqx.filter_jit
    def step(model, state):
        grads, metrics = eventprop_grads(
            model, jnp.asarray(x), labels, loss=mean_cross_entropy, max_spikes=x.size // 6 * 12
        )
        updates, state = opt.update(grads, state, eqx.filter(model, trainable(model)))
        return eqx.apply_updates(model, updates), state, metrics

    history = []
    for _ in range(40):
        model, state, metrics = step(model, state)
        history.append(metrics)
    assert float(history[-1].loss) < 0.25 * float(history[0].loss)
    assert int(history[-1].correct) == 8 > int(history[0].correct)
    assert not jnp.any(jnp.where(model.w_rec.conn.mask, 0.0, model.w_rec.weight))  # padding 0


def _cells(**kw):
    return neurons.CurrentLIF(4, **dict(CELL, **kw))


@pytest.mark.parametrize("change, message", [
    (dict(hidden=neurons.LIF(4)), "must be a CurrentLIF"),
    (dict(hidden=neurons.ALIF(4)), "must be a CurrentLIF"),
    (dict(readout=neurons.ALIF(2)), "LeakyIntegrator or a CurrentLIF"),
    (dict(hidden=_cells(tau_refrac=2.0)), "tau_refrac=2.0"),
    (dict(readout=neurons.CurrentLIF(2, tau_refrac=1.0)), "readout.tau_refrac"),
    (dict(hidden=_cells(v_init=(0.0, 0.5))), "starts every neuron at rest"),
    (dict(readout=neurons.LeakyIntegrator(2, dt=0.5)), "must equal hidden.dt"),
    (dict(w_rec=jnp.zeros((4, 4))), "w_rec must be SparseSynapses or DenseSynapses"),
    (dict(w_in=DenseSynapses(jnp.zeros((3, 5)))), "must end in hidden.n=4"),
])  # fmt: skip
def test_unsupported_neurons_and_synapses_are_refused(change, message):
    parts = dict(
        w_in=DenseSynapses(jnp.zeros((3, 4))),
        w_rec=None,
        w_out=jnp.zeros((4, 2)),
        b_out=jnp.zeros(2),
        hidden=_cells(),
        readout=neurons.LeakyIntegrator(2),
    )
    with pytest.raises(ValueError, match=message):
        EventPropSNN(**{**parts, **change})


def test_bad_calls_are_refused():
    model, x = _small(), _inputs(1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        eventprop_grads(model, x, jnp.array([0, 1, 3, 0]))
    with pytest.raises(Exception, match=r"labels must lie in \[0, 3\)"):
        jax.block_until_ready(
            eqx.filter_jit(eventprop_grads)(model, x, jnp.array([0, -1, 2, 0]))[1].loss
        )
    with pytest.raises(ValueError, match="max_spikes must be an int >= 1"):
        eventprop_grads(model, x, jnp.array([0, 1, 2, 0]), max_spikes=0)
    with pytest.raises(ValueError, match=r"ActivityFloor.f_min must be > 0 Hz, got 0"):
        eventprop_grads(model, x, jnp.array([0, 1, 2, 0]), floor=ActivityFloor(1.0, 0.0))
    with pytest.raises(ValueError, match=r"inputs must be \[T, batch, n_in=5\]"):
        eventprop_grads(model, x[..., :4], jnp.array([0, 1, 2, 0]))
    lif = RecurrentSNN(DenseSynapses(jnp.zeros((5, 4))), DenseSynapses(jnp.zeros((4, 4))),
                       jnp.zeros((4, 3)), jnp.zeros(3), neurons.LIF(4),
                       neurons.LeakyIntegrator(3))  # fmt: skip
    with pytest.raises(ValueError, match="eventprop_grads trains an EventPropSNN"):
        eventprop_grads(lif, x, jnp.array([0, 1, 2, 0]))


@pytest.mark.parametrize("kinds", [("float_delays", "float_delays"), ("int_delays", "sparse"),
                                   ("dense", "dense")])  # fmt: skip
def test_run_over_events_equals_the_differentiable_run(kinds):
    """``events=True`` scatters only the spikes' rows into the delay ring: the same spikes and
    readout as scattering every row (float64), with and without delays, all or no inputs."""
    from tests.eventprop_nets import network

    with jax.enable_x64(True):
        model, x, _ = network(*kinds)
        for inputs in (x, 0.0 * x, jnp.ones_like(x)):
            (z, y), (z_ev, y_ev) = (eqx.filter_jit(model.run)(inputs, events=e)
                                    for e in (False, True))  # fmt: skip
            np.testing.assert_array_equal(z_ev, z)
            np.testing.assert_allclose(y_ev, y, rtol=1e-12, atol=1e-12)
        assert float(z.sum()) > 0 and float(z_ev.sum()) == float(z.sum())
