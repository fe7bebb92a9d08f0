"""NIR export of a trained RecurrentSNN (round trip through nir's reader) and COO export."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import neurons
from spars.export import network_to_coo, to_nir

from .test_learning import batch, make_model
from .test_learning_delays import with_delays

nir = pytest.importorskip("nir")


def simulate_nir(graph, x):
    """The graph stepped by forward Euler at its ``dt``: ``(z [T, B, n_rec], y [T, B, n_out])``."""
    n, dt = graph.nodes, graph.metadata["dt"]
    hid, out = n["hidden"], n["readout"]
    w_in, w_rec = n["w_in"].weight, n["w_rec"].weight
    w_out, b = n["w_out"].weight, n["w_out"].bias
    v = np.full((x.shape[1], w_in.shape[0]), hid.metadata["v_initial"])
    y = np.zeros((x.shape[1], w_out.shape[0]))
    z = np.zeros_like(v)
    zs, ys = [], []
    for x_t in np.asarray(x, np.float64):
        current = x_t @ w_in.T + z @ w_rec.T
        v = v + dt / hid.tau * (hid.v_leak - v + hid.r * current)
        z = (v >= hid.v_threshold).astype(np.float64)
        if hid.metadata["reset"] == "subtract":
            v = v - z * (hid.v_threshold - hid.v_reset)
        else:
            v = np.where(z > 0, hid.v_reset, v)
        y = y + dt / out.tau * (out.v_leak - y + out.r * (z @ w_out.T + b))
        zs.append(z)
        ys.append(y)
    return np.stack(zs), np.stack(ys)


@pytest.mark.parametrize("layout,subtract", [("slots", True), ("dense", False)])
def test_nir_round_trip_reproduces_the_model_step_by_step(tmp_path, layout, subtract):
    model = make_model(jax.random.key(0), sparse=layout, rec_scale=0.6)
    hidden = dataclasses.replace(model.hidden, reset_by_subtraction=subtract, v_rest=0.1,
                                 v_reset=0.0 if subtract else -0.2, bias=0.02)  # fmt: skip
    readout = dataclasses.replace(model.readout, bias=jnp.array([0.1, -0.1, 0.0]))
    model = dataclasses.replace(model, hidden=hidden, readout=readout)
    path = tmp_path / "model.nir"
    nir.write(path, to_nir(model))
    graph = nir.read(path)
    assert isinstance(graph.nodes["hidden"], nir.LIF) and isinstance(graph.nodes["readout"], nir.LI)
    assert ("w_rec", "hidden") in graph.edges and ("readout", "output") in graph.edges
    dense_in = spars.to_dense(model.w_in.conn, model.w_in.weight) if layout == "slots" else (
        model.w_in.weight)  # fmt: skip
    np.testing.assert_allclose(graph.nodes["w_in"].weight, np.asarray(dense_in).T)
    x, _ = batch(jax.random.key(1))
    z, y = model.run(x)
    z_nir, y_nir = simulate_nir(graph, x)
    assert 0 < z.mean() < 0.9  # some, not all, neurons spike
    np.testing.assert_array_equal(np.asarray(z), z_nir)
    np.testing.assert_allclose(np.asarray(y), y_nir, rtol=1e-4, atol=1e-5)


def test_what_nir_cannot_hold_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="ALIF"):
        to_nir(make_model(jax.random.key(0), adaptive=True))
    with pytest.raises(ValueError, match="delays"):
        to_nir(with_delays(make_model(jax.random.key(0)), "int"))


def test_network_to_coo_lists_every_projection_with_its_variables():
    k1, k2 = jax.random.split(jax.random.key(2))
    c1 = spars.fixed_probability(k1, 20, 15, p=0.2, headroom=2.0)
    c2 = spars.fixed_probability(k2, 15, 15, p=0.3)
    w1 = jnp.where(c1.mask, jax.random.normal(k1, c1.indices.shape), 0.0)
    w2 = jnp.where(c2.mask, 0.5, 0.0)
    d2 = jnp.where(c2.mask, jax.random.randint(k2, c2.indices.shape, 1, 4), 0)
    net = spars.Network(
        populations={"in": neurons.PoissonSource(20), "lif": neurons.LIF(15)},
        projections={"ff": spars.Projection("in", "lif", c1, w1),
                     "rec": spars.Projection("lif", "lif", c2, w2, d2, max_delay=3)},
    )  # fmt: skip
    coo = network_to_coo(net)
    assert (
        coo["ff"]["source"] == "in" and coo["rec"]["target"] == "lif" and "delay" not in coo["ff"]
    )
    for name, conn, w in (("ff", c1, w1), ("rec", c2, w2)):
        entry = coo[name]
        dense = np.zeros((conn.n_pre, entry["n_post"]))
        dense[entry["pre"], entry["post"]] = entry["weight"]
        np.testing.assert_array_equal(dense, np.asarray(spars.to_dense(conn, w)))
    delays = np.zeros((15, 15))
    delays[coo["rec"]["pre"], coo["rec"]["post"]] = coo["rec"]["delay"]
    np.testing.assert_array_equal(delays, np.asarray(spars.to_dense(c2, d2)))
