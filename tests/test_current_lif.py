"""CurrentLIF (NEST's iaf_psc_exp) against the exact solution and a NumPy loop of NEST's update."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spars import neurons, surrogate

PARAMS = dict(tau_mem=10.0, tau_syn=2.0, c_mem=250.0, v_rest=-70.0, v_thresh=-55.0,
              v_reset=-70.0, dt=0.1)  # fmt: skip


def _exact(t, v0, i0, bias, tau_m, tau_s, c, v_rest):
    """Closed-form v(t) [mV] of the linear ODE from v0 [mV], i0 [pA], constant bias [pA]."""
    leak = (v0 - v_rest) * np.exp(-t / tau_m) + bias * tau_m / c * (1 - np.exp(-t / tau_m))
    if tau_m == tau_s:
        return v_rest + leak + i0 * t / c * np.exp(-t / tau_m)
    kernel = tau_s * tau_m / (c * (tau_m - tau_s)) * (np.exp(-t / tau_m) - np.exp(-t / tau_s))
    return v_rest + leak + i0 * kernel


def _nest_loop(drive, p, v0, refrac_steps, bias=0.0):
    """NEST's iaf_psc_exp::update written out (V relative to E_L); spikes and V per step."""
    h, tm, ts, c = p["dt"], p["tau_mem"], p["tau_syn"], p["c_mem"]
    p11, p22 = np.exp(-h / ts), np.exp(-h / tm)
    p21 = ts * tm / (c * (tm - ts)) * (np.exp(-h / tm) - np.exp(-h / ts))
    p20 = tm / c * (1 - p22)
    theta, v_reset = p["v_thresh"] - p["v_rest"], p["v_reset"] - p["v_rest"]
    v, i_syn = v0 - p["v_rest"], np.zeros_like(v0)
    r_ref = np.zeros(v0.shape, int)
    spikes, vs = [], []
    for weighted in drive:
        ready = r_ref == 0
        v = np.where(ready, v * p22 + i_syn * p21 + bias * p20, v)
        r_ref = np.where(ready, r_ref, r_ref - 1)
        i_syn = i_syn * p11 + weighted
        z = v >= theta
        r_ref = np.where(z, refrac_steps, r_ref)
        v = np.where(z, v_reset, v)
        spikes.append(z)
        vs.append(v + p["v_rest"])
    return np.array(spikes, np.float64), np.array(vs)


def _run(model, drive, state=None):
    def step(state, d):
        z, state = model.step(state, d)
        return state, (z, state.v, state.i)

    state = model.init(drive.shape[1:-1]) if state is None else state
    return jax.lax.scan(step, state, jnp.asarray(drive))[1]


@pytest.mark.parametrize("tau_syn", [2.0, 10.0])  # 10.0 = tau_mem: NEST's singular propagator
def test_subthreshold_potential_is_the_exact_solution(tau_syn):
    p = {**PARAMS, "tau_syn": tau_syn, "v_thresh": 100.0}
    drive = np.zeros((300, 3))
    drive[0] = [400.0, -200.0, 0.0]  # a current jump at the end of step 0
    bias = np.array([0.0, 50.0, 120.0])
    v0 = np.array([-70.0, -60.0, -75.0])
    with jax.enable_x64(True):
        model = neurons.CurrentLIF(3, bias=jnp.asarray(bias), tau_refrac=0.0, **p)
        state = model.init()._replace(v=jnp.asarray(v0))
        _, v, i = _run(model, drive, state)
    t = p["dt"] * np.arange(1, 300)[:, None]  # after step k: (k + 1) dt, the jump at dt
    v_free = _exact(t + p["dt"], v0, 0.0, bias, p["tau_mem"], tau_syn, p["c_mem"], -70.0)
    v_jump = _exact(t, -70.0, drive[0], 0.0, p["tau_mem"], tau_syn, p["c_mem"], -70.0) + 70.0
    np.testing.assert_allclose(v[1:], v_free + v_jump, rtol=0, atol=1e-10)
    np.testing.assert_allclose(i[1:], drive[0] * np.exp(-t / tau_syn), rtol=1e-12)


def test_spike_reset_sequence_of_a_constant_current_is_the_exact_one():
    """Constant I_e above rheobase: period = refractory steps + first grid crossing from rest."""
    bias, refrac = 700.0, 20
    with jax.enable_x64(True):
        model = neurons.CurrentLIF(1, bias=bias, tau_refrac=2.0, **PARAMS)
        z, v, _ = _run(model, np.zeros((600, 1)))
    t = PARAMS["dt"] * np.arange(1, 600)
    v_rest_start = _exact(t, -70.0, 0.0, bias, 10.0, 2.0, 250.0, -70.0)
    k = int(np.argmax(v_rest_start >= -55.0))  # first step whose end lies above threshold
    expected = np.arange(k, 600, k + 1 + refrac)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(z[:, 0])), expected)
    assert len(expected) >= 4
    after = expected[0] + 1
    np.testing.assert_array_equal(v[after : after + refrac, 0], -70.0)  # clamped
    np.testing.assert_allclose(v[expected[0] + refrac + 1, 0], v_rest_start[0], atol=1e-10)


def test_matches_nest_update_step_by_step():
    rng = np.random.default_rng(0)
    n, steps = 8, 4000
    drive = rng.normal(150.0, 300.0, (steps, n)) * (rng.uniform(size=(steps, n)) < 0.3)
    v0 = rng.uniform(-70.0, -56.0, n)
    with jax.enable_x64(True):
        model = neurons.CurrentLIF(n, bias=180.0, **PARAMS)  # t_ref 2 ms = 20 steps
        state = model.init()._replace(v=jnp.asarray(v0))
        z, v, _ = _run(model, drive, state)
    z_ref, v_ref = _nest_loop(drive, PARAMS, v0, refrac_steps=20, bias=180.0)
    assert z_ref.sum() > 50 and (z_ref.sum(0) > 0).all()
    np.testing.assert_array_equal(np.asarray(z), z_ref)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-9)


def test_propagator_is_nests_and_its_limit():
    h, c = 0.1, 250.0
    regular = neurons.current_to_voltage(h, 10.0, 2.0, c)
    np.testing.assert_allclose(regular, 2.0 * 10.0 / (c * 8.0) * (np.exp(-0.01) - np.exp(-0.05)),
                               rtol=1e-6)  # fmt: skip
    for tau_syn in (10.0, 10.0 + 1e-9):
        np.testing.assert_allclose(neurons.current_to_voltage(h, 10.0, tau_syn, c),
                                   h / c * np.exp(-h / 10.0), rtol=1e-5)  # fmt: skip


def test_jit_vmap_and_grad_through_the_surrogate():
    model = neurons.CurrentLIF(4, tau_refrac=0.0, spike_fn=surrogate.FastSigmoid(1.0), **PARAMS)
    drive = jnp.asarray(np.random.default_rng(1).uniform(0, 900.0, (3, 200, 4)))

    @eqx.filter_jit
    def count(model, drive):
        return _run(model, drive)[0].sum()

    per_trial = jax.vmap(count, in_axes=(None, 0))(model, drive)
    np.testing.assert_array_equal(per_trial, [count(model, d) for d in drive])
    assert per_trial.min() > 0
    g = jax.grad(lambda d: count(model, d))(drive[0])
    assert g.shape == (200, 4) and np.all(np.isfinite(g)) and np.any(g != 0)
    step, psi, new = model.step_with_derivative(model.init(), jnp.full(4, 300.0))
    assert psi.shape == (4,) and np.all(psi > 0) and new.i[0] == 300.0


def test_v_init_draws_uniform_or_normal_potentials():
    uniform = neurons.CurrentLIF(2000, v_init=(-70.0, -60.0)).init((), jax.random.key(0))
    assert float(uniform.v.min()) >= -70.0 and float(uniform.v.max()) <= -60.0
    normal = neurons.CurrentLIF(4000, v_init_normal=(-58.0, 10.0)).init((2,), jax.random.key(1))
    assert normal.v.shape == (2, 4000)
    assert abs(float(normal.v.mean()) + 58.0) < 0.5 and abs(float(normal.v.std()) - 10.0) < 0.5
    with pytest.raises(ValueError, match="needs a PRNG key"):
        neurons.CurrentLIF(2, v_init_normal=(-58.0, 10.0)).init()


@pytest.mark.parametrize("kwargs, message", [
    (dict(tau_syn=0.0), "tau_syn must be finite and > 0"),
    (dict(c_mem=-1.0), "c_mem must be finite and > 0"),
    (dict(tau_refrac=-1.0), "tau_refrac must be finite and >= 0"),
    (dict(v_reset=-50.0), "must lie below v_thresh"),
    (dict(v_init=(-60.0, -70.0)), "low <= high"),
    (dict(v_init_normal=(-60.0, -1.0)), "std >= 0"),
    (dict(v_init=(-70.0, -60.0), v_init_normal=(-60.0, 1.0)), "not both"),
])  # fmt: skip
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        neurons.CurrentLIF(3, **kwargs)


def test_matches_nest_simulator_itself():
    """NEST 3's iaf_psc_exp (when installed): spike times and V_m at every step."""
    nest = pytest.importorskip("nest")
    n, steps, dt = 3, 2000, 0.1
    p = dict(C_m=250.0, tau_m=10.0, tau_syn_ex=0.5, tau_syn_in=0.5, E_L=-65.0, V_th=-50.0,
             V_reset=-65.0, t_ref=2.0, I_e=300.0, V_m=-65.0)  # fmt: skip
    rng = np.random.default_rng(0)
    sent = np.sort(rng.choice(np.arange(1, steps - 20), 300, replace=False))  # steps
    weights = np.array([900.0, 1500.0, -700.0])
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.resolution = dt
    cells = nest.Create("iaf_psc_exp", n, params=p)
    source = nest.Create("spike_generator", params={"spike_times": np.round(sent * dt, 1)})
    for j in range(n):
        nest.Connect(source, cells[j], syn_spec={"weight": weights[j], "delay": 1.0})
    meter = nest.Create("voltmeter", params={"interval": dt})
    recorder = nest.Create("spike_recorder")
    nest.Connect(meter, cells)
    nest.Connect(cells, recorder)
    nest.Simulate(steps * dt)

    drive = np.zeros((steps, n))
    drive[sent + 10 - 1] = weights  # sent at t, arrives 1 ms later: the step ending at t + 1
    with jax.enable_x64(True):
        model = neurons.CurrentLIF(n, bias=300.0, dt=dt)  # microcircuit defaults = p
        z, v, _ = _run(model, drive)
    meter_ev, spike_ev = meter.get("events"), recorder.get("events")
    for j in range(n):
        own = meter_ev["senders"] == cells[j].global_id
        order = np.argsort(meter_ev["times"][own])
        recorded = meter_ev["V_m"][own][order]  # NEST hands the last 1 ms to the meter later
        assert len(recorded) >= steps - 10
        np.testing.assert_allclose(v[: len(recorded), j], recorded, rtol=0, atol=1e-9)
        fired = np.sort(spike_ev["times"][spike_ev["senders"] == cells[j].global_id])
        np.testing.assert_allclose((np.flatnonzero(np.asarray(z[:, j])) + 1) * dt, fired)
        assert len(fired) > 10 or weights[j] < 0


def test_hidden_layer_of_the_recurrent_classifier_and_not_exported_as_a_plain_lif():
    from spars.export import to_nir
    from spars.learning import DenseSynapses, RecurrentSNN, bptt_grads, mean_cross_entropy

    rng = np.random.default_rng(2)
    hidden = neurons.CurrentLIF(6, tau_refrac=0.0, spike_fn=surrogate.FastSigmoid(0.5), **PARAMS)
    model = RecurrentSNN(DenseSynapses(jnp.asarray(rng.normal(900.0, 300.0, (5, 6)))),
                         DenseSynapses(jnp.zeros((6, 6))), jnp.asarray(rng.normal(0, 1, (6, 2))),
                         jnp.zeros(2), hidden, neurons.LeakyIntegrator(2, dt=0.1))  # fmt: skip
    x = jnp.asarray(rng.uniform(size=(150, 3, 5)) < 0.3, jnp.float32)
    z, _ = model.run(x)
    assert float(z.sum()) > 0
    grads, _ = bptt_grads(model, x, jnp.array([0, 1, 0]), loss=mean_cross_entropy)
    assert np.all(np.isfinite(grads.w_in.weight)) and np.any(grads.w_in.weight != 0)
    with pytest.raises(ValueError, match="exports LIF hidden layers"):
        to_nir(model)
