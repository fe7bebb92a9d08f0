import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import neurons


def _network(seed=0, n_in=6, n_rec=10):
    rng = np.random.default_rng(seed)
    w_in = (rng.normal(size=(n_in, n_rec)) * (rng.random((n_in, n_rec)) < 0.5) * 2).astype(
        np.float32
    )
    w_rec = (rng.normal(size=(n_rec, n_rec)) * (rng.random((n_rec, n_rec)) < 0.3)).astype(
        np.float32
    )
    w_out = rng.normal(size=(n_rec, 2)).astype(np.float32)
    train = (rng.random((30, 3, n_in)) < 0.3).astype(np.float32)
    pops = {
        "in": neurons.SpikeTrain(jnp.asarray(train)),
        "rec": neurons.LIF(n_rec, tau_mem=10.0, tau_refrac=1.0),
        "out": neurons.LeakyIntegrator(2),
    }
    projections = {}
    for name, pre, post, w in (
        ("a", "in", "rec", w_in),
        ("b", "rec", "rec", w_rec),
        ("c", "rec", "out", w_out),
    ):
        conn, values = spars.from_dense(w, headroom=1.5)
        projections[name] = spars.Projection(pre, post, conn, values)
    return spars.Network(pops, projections), (w_in, w_rec, w_out), train


def _dense_reference(pops, dense, train):
    """The same network stepped by hand with dense matrices."""
    w_in, w_rec, w_out = dense
    lif, readout = pops["rec"], pops["out"]
    s_lif, s_out = lif.init(batch_shape=(3,)), readout.init(batch_shape=(3,))
    z_in, z_rec, outs = jnp.zeros((3, train.shape[2])), jnp.zeros((3, w_rec.shape[0])), []
    for t in range(train.shape[0]):
        new_rec, s_lif = lif.step(s_lif, z_in @ w_in + z_rec @ w_rec)
        out, s_out = readout.step(s_out, z_rec @ w_out)
        z_in, z_rec = jnp.asarray(train[t]), new_rec
        outs.append((z_rec, out))
    return jnp.stack([o[0] for o in outs]), jnp.stack([o[1] for o in outs])


def test_simulate_equals_dense_hand_stepped_network():
    net, dense, train = _network()
    state = net.init(jax.random.key(0), (3,))
    _, rec = jax.jit(lambda n, s: spars.simulate(n, s, 30))(net, state)
    z_ref, out_ref = _dense_reference(net.populations, dense, train)
    np.testing.assert_array_equal(rec["rec"], z_ref)
    np.testing.assert_allclose(rec["out"], out_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(rec["in"], train)
    assert float(rec["rec"].sum()) > 0


def test_gradient_through_simulation_equals_dense():
    net, dense, train = _network(seed=1)
    state = net.init(jax.random.key(0), (3,))

    def sparse_loss(net):
        return jnp.sum(spars.simulate(net, state, 30)[1]["out"] ** 2)

    def dense_loss(mats):
        return jnp.sum(_dense_reference(net.populations, mats, train)[1] ** 2)

    grads = eqx.filter_grad(sparse_loss)(net)
    ref = jax.grad(dense_loss)(tuple(jnp.asarray(m) for m in dense))
    for name, g_ref, w in zip("abc", ref, dense, strict=True):
        proj = net.projections[name]
        g = spars.to_dense(proj.conn, grads.projections[name].weights)
        np.testing.assert_allclose(g, np.asarray(g_ref) * (w != 0), rtol=1e-4, atol=1e-5)
    assert np.abs(ref[0]).sum() > 0


def test_record_function_and_external_drive():
    net, _, _ = _network()
    state = net.init(jax.random.key(0), (3,))
    drive = {"rec": jnp.full((5, 3, 10), 100.0)}  # forces spikes outside refractoriness
    _, v = spars.simulate(net, state, 5, external=drive, record=lambda s: s.populations["rec"].v)
    assert v.shape == (5, 3, 10)
    _, rec = spars.simulate(net, state, 5, external=drive)
    np.testing.assert_array_equal(rec["rec"][0], np.ones((3, 10)))
    with pytest.raises(ValueError, match="has 4 steps, expected 5"):
        spars.simulate(net, state, 5, external={"rec": jnp.zeros((4, 3, 10))})
    with pytest.raises(ValueError, match="unknown population 'x'"):
        spars.simulate(net, state, 5, external={"x": jnp.zeros((5, 3, 10))})


def test_network_checks_projection_ends():
    net, _, _ = _network()
    proj = net.projections["a"]
    with pytest.raises(ValueError, match="unknown post population 'nope'"):
        spars.Network(
            net.populations, {"a": spars.Projection("in", "nope", proj.conn, proj.weights)}
        )
    with pytest.raises(ValueError, match="has 10 neurons, the projection expects 6"):
        spars.Network(
            net.populations, {"a": spars.Projection("rec", "rec", proj.conn, proj.weights)}
        )


def _delayed_projection(pre, post, w, d, max_delay):
    conn, values = spars.from_dense(w, headroom=1.5)
    _, delays = spars.from_dense(np.where(w != 0, d, 0), headroom=1.5)
    return spars.Projection(pre, post, conn, values, delays, max_delay)


def test_delayed_network_equals_hand_stepped_history():
    rng = np.random.default_rng(3)
    n_in, n_rec, max_delay, steps = 6, 10, 4, 40
    w_in = rng.normal(size=(n_in, n_rec)) * (rng.random((n_in, n_rec)) < 0.6) * 2
    w_rec = rng.normal(size=(n_rec, n_rec)) * (rng.random((n_rec, n_rec)) < 0.4)
    w_in, w_rec = w_in.astype(np.float32), w_rec.astype(np.float32)
    d_in, d_rec = (rng.integers(1, max_delay + 1, w.shape).astype(np.int32) for w in (w_in, w_rec))
    train = (rng.random((steps, 3, n_in)) < 0.3).astype(np.float32)
    lif = neurons.LIF(n_rec, tau_mem=10.0, tau_refrac=1.0)
    projections = {
        "a": _delayed_projection("in", "rec", w_in, d_in, max_delay),
        "b": _delayed_projection("rec", "rec", w_rec, d_rec, max_delay + 3),  # one ring of 7
    }
    net = spars.Network({"in": neurons.SpikeTrain(jnp.asarray(train)), "rec": lif}, projections)
    state0 = net.init(jax.random.key(0), (3,))
    _, rec = jax.jit(lambda n, s: spars.simulate(n, s, steps))(net, state0)

    history = {"in": [], "rec": []}  # spikes emitted at each step
    state, want = lif.init(batch_shape=(3,)), []
    for t in range(steps):
        drive = np.zeros((3, n_rec), np.float32)
        for name, w, d in (("in", w_in, d_in), ("rec", w_rec, d_rec)):
            for delay in range(1, min(max_delay, t) + 1):
                drive += history[name][t - delay] @ (w * (d == delay))
        z, state = lif.step(state, jnp.asarray(drive))
        history["in"].append(train[t])
        history["rec"].append(np.asarray(z))
        want.append(np.asarray(z))
    np.testing.assert_array_equal(rec["rec"], np.stack(want))
    assert float(rec["rec"].sum()) > 0
    undelayed = spars.Network(net.populations, {
        k: spars.Projection(p.pre, p.post, p.conn, p.weights) for k, p in projections.items()
    })  # fmt: skip
    plain = spars.simulate(undelayed, undelayed.init(jax.random.key(0), (3,)), steps)[1]
    assert np.any(plain["rec"] != rec["rec"])  # the delays matter here


def test_gradient_through_a_delayed_network_equals_central_differences():
    rng = np.random.default_rng(4)
    steps, max_delay, eps = 25, 6, 1e-2
    w = (rng.normal(size=(5, 3)) * (rng.random((5, 3)) < 0.7)).astype(np.float32)
    d = rng.integers(1, max_delay, w.shape) + rng.uniform(0.1, 0.9, w.shape)  # eps from integers
    train = (rng.random((steps, 2, 5)) < 0.4).astype(np.float32)
    conn, weights = spars.from_dense(w)
    _, delays = spars.from_dense(np.where(w != 0, d, 0.0).astype(np.float32))
    pops = {"in": neurons.SpikeTrain(jnp.asarray(train)), "out": neurons.LeakyIntegrator(3)}
    mix = jnp.asarray(rng.normal(size=(steps, 2, 3)), jnp.float32)

    def loss(weights, delays):  # linear in the readout: central differences are exact
        proj = spars.Projection("in", "out", conn, weights, delays, max_delay)
        net = spars.Network(pops, {"p": proj})
        out = spars.simulate(net, net.init(jax.random.key(0), (2,)), steps)[1]["out"]
        return jnp.sum(mix * out)

    grads = jax.grad(loss, (0, 1))(weights, delays)
    for i, k in np.argwhere(np.asarray(conn.mask))[:8]:
        for which, grad in enumerate(grads):
            e = [jnp.zeros(w.shape).at[i, k].set(eps * (n == which)) for n in range(2)]
            plus = loss(weights + e[0], delays + e[1])
            minus = loss(weights - e[0], delays - e[1])
            np.testing.assert_allclose(grad[i, k], (plus - minus) / (2 * eps), rtol=2e-3, atol=2e-3)
    assert float(jnp.abs(grads[1]).sum()) > 0


def test_projection_checks_its_delays():
    net, _, _ = _network()
    proj = net.projections["a"]
    delays = jnp.where(proj.conn.mask, 3, 0)
    with pytest.raises(ValueError, match="delays need max_delay"):
        spars.Projection("in", "rec", proj.conn, proj.weights, delays)
    with pytest.raises(ValueError, match=r"is outside \[1, max_delay=2\]"):
        spars.Projection("in", "rec", proj.conn, proj.weights, delays, 2)
    with pytest.raises(ValueError, match="max_delay is given without delays"):
        spars.Projection("in", "rec", proj.conn, proj.weights, None, 2)
    delayed = spars.Network(net.populations, {
        "a": spars.Projection("in", "rec", proj.conn, proj.weights, delays, 3)
    })  # fmt: skip
    with pytest.raises(ValueError, match="the state has no delay buffer for 'rec'"):
        delayed.step(net.init(jax.random.key(0), (3,)))


def test_one_to_one_equals_a_diagonal_projection_and_checks_sizes():
    train = (np.random.default_rng(5).random((20, 2, 7)) < 0.3).astype(np.float32) * 3.0
    w = jnp.linspace(0.5, 2.0, 7)
    pops = {"in": neurons.SpikeTrain(jnp.asarray(train)), "out": neurons.LeakyIntegrator(7)}

    def run(projection):
        net = spars.Network(pops, {"p": projection})
        return jax.jit(lambda s: spars.simulate(net, s, 20)[1]["out"])(
            net.init(jax.random.key(0), (2,)))

    diagonal = spars.Projection("in", "out", *spars.from_dense(jnp.diag(w)))
    np.testing.assert_allclose(run(spars.OneToOne("in", "out", w)), run(diagonal), rtol=1e-6)
    np.testing.assert_allclose(run(spars.OneToOne("in", "out", 0.5)),
                               run(spars.OneToOne("in", "out", jnp.full(7, 0.5))))  # fmt: skip
    grad = jax.grad(lambda w: jnp.sum(run(spars.OneToOne("in", "out", w))))(w)
    assert grad.shape == (7,) and float(jnp.abs(grad).min()) > 0
    pops["small"] = neurons.LeakyIntegrator(3)
    with pytest.raises(ValueError, match="joins populations of 7 and 3 neurons"):
        spars.Network(pops, {"p": spars.OneToOne("in", "small")})
    with pytest.raises(ValueError, match="expects 4"):
        spars.Network(pops, {"p": spars.OneToOne("in", "out", jnp.ones(4))})
    with pytest.raises(ValueError, match="NaN or inf"):
        spars.OneToOne("in", "out", jnp.asarray([1.0, jnp.nan]))


def test_event_capacity_and_columns_per_projection_change_no_result():
    net, _, _ = _network()
    tuned = spars.Network(net.populations, {
        name: spars.Projection(p.pre, p.post, p.conn, p.weights, event_capacity=2,
                               columns=spars.column_view(p.conn))
        for name, p in net.projections.items()
    })  # fmt: skip
    state = net.init(jax.random.key(0), (3,))
    with spars.kernels.backend("xla"):  # the path that lists events in chunks
        want = spars.simulate(net, state, 30)[1]
        got = jax.jit(lambda n, s: spars.simulate(n, s, 30)[1])(tuned, state)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="event_capacity must be >= 1"):
        spars.Projection("in", "rec", tuned.projections["a"].conn,
                         tuned.projections["a"].weights, event_capacity=0)  # fmt: skip


@pytest.mark.parametrize("backend", ["auto", "xla"])
def test_spikes_listed_once_for_several_projections_change_no_result(backend, monkeypatch):
    rng = np.random.default_rng(5)
    n_in, n_rec, steps = 6, 10, 30
    w_in, w_rec, w_out = (rng.normal(size=s).astype(np.float32) * (rng.random(s) < 0.5)
                          for s in ((n_in, n_rec), (n_rec, n_rec), (n_rec, 3)))  # fmt: skip
    d_rec = rng.integers(1, 4, w_rec.shape).astype(np.int32)
    train = (rng.random((steps, 2, n_in)) < 0.4).astype(np.float32)
    pops = {"in": neurons.SpikeTrain(jnp.asarray(train)),
            "rec": neurons.LIF(n_rec, tau_mem=10.0, tau_refrac=1.0),
            "out": neurons.LIF(3, tau_mem=10.0)}  # fmt: skip
    projections = {
        "a": spars.Projection("in", "rec", *spars.from_dense(w_in * 3, headroom=1.5)),
        "b": _delayed_projection("rec", "rec", w_rec, d_rec, 3),
        "c": spars.Projection("rec", "out", *spars.from_dense(w_out * 2, headroom=1.5),
                              event_capacity=4),
    }
    net = spars.Network(pops, projections)
    assert net.shared_events() == {"rec": None}
    state = net.init(jax.random.key(0), (2,))
    with spars.kernels.backend(backend):
        shared = jax.jit(lambda n, s: spars.simulate(n, s, steps)[1])(net, state)
        monkeypatch.setattr(spars.Network, "shared_events", lambda self: {})
        alone = jax.jit(lambda n, s: spars.simulate(n, s, steps)[1])(net, state)
    assert float(shared["rec"].sum()) > 0 and float(shared["out"].sum()) > 0
    for name in alone:
        np.testing.assert_array_equal(shared[name], alone[name])
