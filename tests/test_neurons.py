import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spars import neurons, surrogate


def _lif_numpy(drive, tau, v_rest, v_reset, v_th, refrac_steps, dt, subtract=False):
    """Hand-written LIF loop: returns spikes and potentials [T, n]."""
    alpha = np.exp(-dt / tau)
    v = np.full(drive.shape[1], v_rest)
    left = np.zeros(drive.shape[1], int)
    spikes, vs = [], []
    for d in drive:
        v = np.where(left > 0, v_reset, v_rest + alpha * (v - v_rest) + d)
        z = (v >= v_th) & (left == 0)
        v = np.where(z, v - (v_th - v_reset) if subtract else v_reset, v)
        left = np.where(z, refrac_steps, np.maximum(left - 1, 0))
        spikes.append(z.astype(np.float32))
        vs.append(v)
    return np.array(spikes), np.array(vs)


def _run(model, drive):
    def step(state, d):
        z, state = model.step(state, d)
        return state, (z, state.v)

    return jax.lax.scan(step, model.init(), jnp.asarray(drive))[1]


@pytest.mark.parametrize("subtract", [False, True])
def test_lif_matches_hand_written_loop(subtract):
    drive = np.random.default_rng(0).uniform(0, 6, (200, 5)).astype(np.float32)
    params = dict(tau_mem=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0, dt=0.5)
    model = neurons.LIF(5, tau_refrac=2.0, reset_by_subtraction=subtract, **params)
    z, v = _run(model, drive)
    z_ref, v_ref = _lif_numpy(
        drive, 10.0, -65.0, -70.0, -50.0, refrac_steps=4, dt=0.5, subtract=subtract
    )
    np.testing.assert_array_equal(z, z_ref)
    np.testing.assert_allclose(v, v_ref, rtol=1e-5, atol=1e-3)
    assert z.sum() > 10
    gaps = np.diff(np.flatnonzero(z_ref[:, 0]))
    assert gaps.min() >= 5  # 4 refractory steps after each spike


def test_alif_threshold_adapts():
    drive = np.full((300, 1), 0.3, np.float32)
    lif = neurons.LIF(1, tau_mem=20.0)
    alif = neurons.ALIF(1, tau_mem=20.0, tau_adapt=200.0, beta=0.5)
    n_lif, n_alif = float(_run(lif, drive)[0].sum()), float(_run(alif, drive)[0].sum())
    assert 0 < n_alif < n_lif

    # Hand-worked: threshold 1 + beta * a with a <- rho a + z.
    state = alif.init()
    a, v = 0.0, 0.0
    rho, alpha = np.exp(-1 / 200.0), np.exp(-1 / 20.0)
    for _ in range(100):
        z, state = alif.step(state, jnp.array([0.3]))
        v = alpha * v + 0.3
        z_ref = float(v >= 1.0 + 0.5 * a)
        v = 0.0 if z_ref else v
        a = rho * a + z_ref
        assert float(z[0]) == z_ref
        np.testing.assert_allclose(state.a, [a], rtol=1e-5)


@pytest.mark.parametrize(
    "fn, derivative",
    [
        (surrogate.FastSigmoid(slope=4.0), lambda x: 1 / (1 + 4 * abs(x)) ** 2),
        (
            surrogate.Sigmoid(slope=3.0),
            lambda x: 3 / (1 + np.exp(-3 * x)) * (1 - 1 / (1 + np.exp(-3 * x))),
        ),
        (surrogate.Triangle(gamma=0.3, width=2.0), lambda x: 0.3 / 2 * max(0.0, 1 - abs(x) / 2)),
        (surrogate.ArcTan(alpha=2.0), lambda x: 2 / (2 * (1 + (np.pi / 2 * 2 * x) ** 2))),
    ],
)
def test_surrogates_forward_step_and_backward_formula(fn, derivative):
    xs = np.array([-3.0, -0.5, 0.0, 0.25, 1.5], np.float32)
    np.testing.assert_array_equal(fn(jnp.asarray(xs)), (xs >= 0).astype(np.float32))
    grads = jax.vmap(jax.grad(fn))(jnp.asarray(xs))
    np.testing.assert_allclose(grads, [derivative(float(x)) for x in xs], rtol=1e-5)


def test_detach_reset_stops_gradient_through_reset():
    def v_after(drive, detach):
        model = neurons.LIF(1, detach_reset=detach, spike_fn=surrogate.FastSigmoid(1.0))
        _, state = model.step(model.init(), drive)
        return state.v.sum()

    drive = jnp.array([1.2])  # crosses threshold 1.0: spikes and resets to 0
    assert float(v_after(drive, True)) == 0.0
    # v_after = v + z (v_reset - v) = v (1 - z); detached: d/dv = 1 - z = 0.
    assert float(jax.grad(v_after)(drive, True)[0]) == pytest.approx(0.0)
    # Not detached: 1 - z - v dz/dv = -1.2 / (1 + 0.2)^2.
    assert float(jax.grad(v_after)(drive, False)[0]) == pytest.approx(-1.2 / 1.44, rel=1e-5)


def test_leaky_integrator():
    model = neurons.LeakyIntegrator(2, tau_mem=10.0)
    v = model.init(batch_shape=(3,))
    for _ in range(2):
        out, v = model.step(v, jnp.ones((3, 2)))
    np.testing.assert_allclose(out, np.full((3, 2), np.exp(-0.1) + 1.0), rtol=1e-6)


def test_poisson_rate_and_drive():
    model = neurons.PoissonSource(1000, rate=50.0, dt=1.0)
    state = model.init(jax.random.key(0), (4,))
    total = 0.0
    for _ in range(50):
        z, state = model.step(state)
        total += float(z.sum())
    expected = 4 * 1000 * 50 * 0.05
    assert abs(total - expected) < 5 * np.sqrt(expected)
    z, _ = model.step(state, jnp.zeros((4, 1000)))
    assert float(z.sum()) == 0.0
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.init(batch_shape=(4,))


@pytest.mark.parametrize("via", ["table", "drive"])
@pytest.mark.parametrize("rate", [400.0, 3000.0, np.array([0.0, 200.0, 1500.0, 60000.0])])
def test_poisson_counts_follow_the_poisson_distribution(rate, via):
    """Counts per step (dt 0.5 ms) against the exact pmf: a chi-square test per mean.

    ``table``: the CDF table built from the concrete rate; ``drive``: the rate
    given per step, the CDF built on the fly in float32.
    """
    from scipy import stats

    model = neurons.PoissonSource(4, rate=rate, dt=0.5, counts=True)
    drive = None if via == "table" else jnp.broadcast_to(jnp.asarray(rate, jnp.float32), (500, 4))
    step = jax.jit(jax.vmap(lambda s: model.step(s, drive)[0]))
    states = jax.vmap(lambda k: model.init(k, (500,)))(jax.random.split(jax.random.key(3), 40))
    x = np.asarray(step(states)).reshape(-1, 4)  # 20000 draws of each neuron's count
    means = np.broadcast_to(np.asarray(rate) * 0.5e-3, (4,))
    for mean, col in zip(means, x.T, strict=True):
        assert np.all(col == np.round(col)) and col.min() >= 0
        if mean == 0:
            assert col.max() == 0
            continue
        top = int(stats.poisson.ppf(1 - 1e-4, mean))
        observed = np.bincount(np.minimum(col, top + 1).astype(int), minlength=top + 2)
        expected = stats.poisson.pmf(np.arange(top + 1), mean) * col.size
        expected = np.append(expected, col.size - expected.sum())
        keep = expected > 5
        chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
        assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3, (mean, chi2)


def test_poisson_sources_draw_the_same_eagerly_under_jit_and_from_traced_rates():
    for counts in (False, True):
        model = neurons.PoissonSource(2000, rate=jnp.linspace(0.0, 900.0, 2000), dt=1.0,
                                      counts=counts)  # fmt: skip
        state = model.init(jax.random.key(5), (3,))
        eager = model.step(state)[0]
        as_argument = eqx.filter_jit(lambda m, s: m.step(s)[0])(model, state)
        np.testing.assert_array_equal(eager, as_argument)
        built_inside = jax.jit(lambda r, s, c=counts: neurons.PoissonSource(
            2000, rate=r, dt=1.0, counts=c).step(s)[0])(model.rate, state)  # fmt: skip
        agree = float(jnp.mean(built_inside == eager))
        assert agree > 0.9999 if counts else agree == 1.0  # float32 CDF vs the table: the tail


def test_poisson_counts_are_reproducible_and_take_the_rate_as_drive():
    model = neurons.PoissonSource(300, rate=2000.0, dt=1.0, counts=True)
    state = model.init(jax.random.key(1))
    a, _ = jax.jit(lambda s: model.step(s))(state)
    np.testing.assert_array_equal(a, model.step(state)[0])
    assert 1.5 < float(a.mean()) < 2.5
    b, _ = model.step(state, jnp.full((300,), 20000.0))  # 20 per step: jax.random.poisson
    assert 18.0 < float(b.mean()) < 22.0
    assert neurons.PoissonSource(3, rate=30000.0, dt=0.1, counts=True).rate == 30000.0


def test_spike_train_replay_and_binning():
    train = neurons.SpikeTrain.from_events(
        [0.2, 0.7, 2.5, 2.6], [1, 1, 0, 0], n=2, dt=1.0, n_steps=3
    )
    np.testing.assert_array_equal(train.spikes, [[0, 2], [0, 0], [2, 0]])
    state, frames = train.init(), []
    for _ in range(4):
        z, state = train.step(state)
        frames.append(np.asarray(z))
    np.testing.assert_array_equal(frames[3], [0, 0])  # zeros after the end
    with pytest.raises(ValueError, match=r"event 1 \(time 3.5 ms, unit 0\) is outside"):
        neurons.SpikeTrain.from_events([0.5, 3.5], [0, 0], n=2, dt=1.0, n_steps=3)


def test_step_with_derivative_matches_step_and_the_surrogate():
    v0 = jnp.linspace(0.0, 1.5, 12)
    for model in (neurons.LIF(12, tau_refrac=2.0), neurons.ALIF(12, beta=0.5)):
        state = model.init(batch_shape=(1,))._replace(v=v0[None])
        state = model.step(state, jnp.zeros((1, 12)))[1]  # some neurons now refractory
        drive = jnp.full((1, 12), 0.3)
        spikes, new_state = model.step(state, drive)
        spikes2, psi, new_state2 = model.step_with_derivative(state, drive)
        np.testing.assert_array_equal(spikes, spikes2)
        for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(new_state2), strict=True):
            np.testing.assert_array_equal(a, b)

        def spike_of_v(v, state=state, model=model):
            # the spike's surrogate derivative w.r.t. the integrated potential
            threshold = model._threshold(state)
            return model.spike_fn(v - threshold).sum()

        v, refrac = model._integrate(state, drive)
        expected = jax.grad(spike_of_v)(v) * (refrac == 0)
        np.testing.assert_allclose(psi, expected, rtol=1e-6)
        if model.tau_refrac:
            assert jnp.any(refrac > 0) and jnp.all(psi[refrac > 0] == 0)


def _conductance_lif_numpy(g_in, c, tau_m, tau_syn, e_rev, v_rest, v_reset, v_th, refrac, dt):
    """GeNN's LIF + ExpCond update written out: returns spikes and potentials [T, n]."""
    v = np.full(g_in.shape[1], v_rest)
    g = np.zeros(g_in.shape[1])
    left = np.zeros(g_in.shape[1], int)
    spikes, vs = [], []
    for arrived in g_in:
        g = g + arrived
        v_inf = v_rest + g * (e_rev - v) * tau_m / c
        v = np.where(left > 0, v_reset, v_inf - np.exp(-dt / tau_m) * (v_inf - v))
        z = (v >= v_th) & (left == 0)
        v = np.where(z, v_reset, v)
        left = np.where(z, refrac, np.maximum(left - 1, 0))
        g = g * np.exp(-dt / tau_syn)
        spikes.append(z.astype(np.float32))
        vs.append(v)
    return np.array(spikes), np.array(vs)


def test_conductance_lif_matches_genn_equations():
    rng = np.random.default_rng(1)
    g_in = (rng.uniform(0, 0.4, (3000, 6)) * (rng.uniform(size=(3000, 6)) < 0.05)).astype(
        np.float32
    )
    model = neurons.ConductanceLIF(6, c_mem=20.0, tau_syn=5.0, e_rev=0.0, dt=0.1)
    z, v = _run(model, g_in)
    z_ref, v_ref = _conductance_lif_numpy(
        g_in, 20.0, 20.0, 5.0, 0.0, -70.0, -70.0, -54.0, refrac=50, dt=0.1
    )
    assert z_ref.sum() > 5  # the drive makes the neurons fire
    np.testing.assert_array_equal(np.asarray(z), z_ref)
    np.testing.assert_allclose(np.asarray(v), v_ref, atol=1e-3)


def test_conductance_saturates_at_reversal_potential():
    """A constant conductance g holds v at the leak/synapse balance, between v_rest and e_rev.

    Steady state of the update: ``v = (v_rest + g R e_rev) / (1 + g R)``, ``R = tau_mem / c_mem``.
    """
    model = neurons.ConductanceLIF(1, v_thresh=100.0, e_rev=-20.0, tau_syn=1e9)
    state = model.init()
    _, state = model.step(state, jnp.array([50.0]))
    for _ in range(200):
        _, state = model.step(state)
    g_r = 50.0 * 20.0 / 20.0
    np.testing.assert_allclose(float(state.v[0]), (-70.0 + g_r * -20.0) / (1 + g_r), rtol=1e-5)
    _, psi, _ = model.step_with_derivative(state)
    assert psi.shape == (1,)


def test_bias_drives_lif_and_readout_to_their_closed_form():
    alpha = np.exp(-1.0 / 10.0)
    k = np.arange(1, 31)
    lif = neurons.LIF(2, tau_mem=10.0, v_rest=-0.5, v_thresh=5.0, bias=jnp.array([0.1, 0.2]))
    li = neurons.LeakyIntegrator(2, tau_mem=10.0, bias=0.3)
    state, vs = lif.init(), []
    for _ in k:
        _, state = lif.step(state)
        vs.append(np.asarray(state.v))
    want = -0.5 + np.array([0.1, 0.2]) * ((1 - alpha**k) / (1 - alpha))[:, None]
    np.testing.assert_allclose(np.stack(vs), want, rtol=1e-5)
    y, ys = li.init(), []
    for _ in k:
        y, _ = li.step(y)
        ys.append(np.asarray(y))
    np.testing.assert_allclose(np.stack(ys)[:, 0], 0.3 * (1 - alpha**k) / (1 - alpha), rtol=1e-5)


def test_v_init_draws_initial_potentials_uniformly_from_a_key():
    lif = neurons.ALIF(50, v_init=(-1.0, 0.5))
    v = np.asarray(lif.init(jax.random.key(0), (400,)).v)
    assert v.shape == (400, 50) and v.min() >= -1.0 and v.max() < 0.5
    assert abs(v.mean() + 0.25) < 0.01 and abs(v.std() - 1.5 / np.sqrt(12)) < 0.01
    np.testing.assert_array_equal(v, lif.init(jax.random.key(0), (400,)).v)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        lif.init(batch_shape=(2,))
    with pytest.raises(ValueError, match="low <= high"):
        neurons.LIF(3, v_init=(1.0, 0.0))
    assert float(neurons.LIF(3, v_rest=-0.2).init().v[0]) == pytest.approx(-0.2)


def test_init_takes_the_key_first_and_names_the_old_order():
    for model in (neurons.LIF(3), neurons.ALIF(3), neurons.LeakyIntegrator(3),
                  neurons.PoissonSource(3), neurons.CurrentLIF(3), neurons.ConductanceLIF(3)):
        state = model.init(jax.random.key(0), (2,))
        leaves = [x for x in jax.tree.leaves(state) if jnp.ndim(x) == 2]
        assert leaves and all(x.shape == (2, 3) for x in leaves)
        with pytest.raises(TypeError, match=r"key first.*batch_shape=\(2,\)"):
            model.init((2,))
