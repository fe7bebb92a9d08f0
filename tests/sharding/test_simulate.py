"""Sharded simulation and the spike exchange equal one device, on 1, 2 and 4 devices."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import spars
from spars import distributed as dist
from spars import neurons

from .conftest import row_meshes
from .helpers import assert_close, assert_same, projection

N, BATCH, STEPS = 32, 2, 40


def _network(n_blocks: int | None, key=0):
    """Poisson input and ALIF neurons (per-neuron bias); the recurrent projection split by
    rows, one input projection by target (whole with ``n_blocks`` None), one replicated:
    every layout in one network."""
    k_rec, k_ff, k_side = jax.random.split(jax.random.key(key), 3)
    rec, w_rec = projection(k_rec, N, N, p=0.2, scale=0.5)
    ff, w_ff = projection(k_ff, N, N, p=0.3, scale=0.5)
    side, w_side = projection(k_side, N, N, p=0.1, scale=0.25)
    blocks, w_blocks = dist.split_targets(ff, w_ff, n_blocks or 1)
    populations = {"in": neurons.PoissonSource(N, rate=150.0),
                   "lif": neurons.ALIF(N, tau_mem=10.0, bias=jnp.linspace(0.0, 0.1, N),
                                       beta=0.2, tau_adapt=50.0)}
    projections = {"rec": spars.Projection("lif", "lif", rec, w_rec),
                   "ff": spars.Projection("in", "lif", ff, w_ff) if n_blocks is None
                   else dist.BlockedProjection("in", "lif", blocks, w_blocks),
                   "side": spars.Projection("in", "lif", side, w_side)}  # fmt: skip
    return spars.Network(populations, projections)


def _run(mesh, network, state, external=None):
    return jax.jit(lambda net, s, ext: dist.simulate(net, s, STEPS, mesh=mesh, axis="rows",
                                                     external=ext, replicated=("side",)))(
        network, state, external)  # fmt: skip


def test_simulate_equals_one_device_in_every_layout():
    one = _network(None)
    state = one.init(jax.random.key(7), (BATCH,))
    external = {"lif": 0.05 * jnp.ones((STEPS, BATCH, N))}
    want = spars.simulate(one, state, STEPS, external=external)
    rate = float(want[1]["lif"].mean())
    assert 0.02 < rate < 0.9, rate  # the test sees spikes, not silence or saturation
    for mesh in row_meshes():
        got = _run(mesh, _network(mesh.shape["rows"]), state, external)
        assert_same(got[1], want[1])  # spikes: bit for bit
        assert_close(got[0], want[0])  # potentials: up to the order of float sums


def test_simulate_gradients_equal_one_device():
    steps, mesh = 12, row_meshes()[-1]

    def loss(run, network):
        _, records = run(network)
        return jnp.mean(records["lif"] * jnp.linspace(0.0, 1.0, N))

    one, sharded = _network(None), _network(4)
    state = one.init(jax.random.key(8), (BATCH,))
    want = eqx.filter_grad(lambda net: loss(lambda n: spars.simulate(n, state, steps), net))(one)
    run = lambda n: dist.simulate(n, state, steps, mesh=mesh, axis="rows", replicated=("side",))  # noqa: E731
    got = eqx.filter_jit(eqx.filter_grad(lambda net: loss(run, net)))(sharded)
    for name in ("rec", "side"):
        assert_close(got.projections[name].weights, want.projections[name].weights)
    blocks = sharded.projections["ff"].blocks
    merged = spars.to_dense(*dist.merge_targets(blocks, got.projections["ff"].weights))
    ff = one.projections["ff"]
    assert_close(merged, spars.to_dense(ff.conn, want.projections["ff"].weights))
    assert float(jnp.abs(got.projections["rec"].weights).max()) > 0


@pytest.mark.parametrize("active", [0, 3, 24])
def test_spike_exchange_equals_all_gather(active):
    """Few spikes go as events, many as a bitmask, graded values as they are; the
    backward pass reduce-scatters the cotangent."""
    mesh = row_meshes()[-1]
    spikes = jnp.zeros((BATCH, N)).at[:, :active].set(1.0).at[1, -1].set(1.0)
    capacity = 4  # events per device: 4 x 2-byte ids beat the 8-byte bitmask

    def exchange(s, binary):
        return dist.shard_map(lambda x: dist.gather_spikes(x, "rows", binary=binary,
                                                           event_capacity=capacity),
                              mesh, P(None, "rows"), P())(s)  # fmt: skip

    for binary in (True, False):
        assert_same(jax.jit(exchange, static_argnums=1)(spikes, binary), spikes)
    graded = 2.5 * spikes
    assert_same(exchange(graded, False), graded)
    weights = jnp.arange(N, dtype=jnp.float32)
    grad = jax.grad(lambda s: jnp.sum(exchange(s, True) * weights))(spikes)
    assert_same(grad, jnp.broadcast_to(weights, spikes.shape))


def test_exchange_sends_the_smaller_form():
    n_entries = 2 * 512
    assert dist.exchange.bitmask_bytes(n_entries) == 128
    capacity = dist.exchange.default_event_capacity(n_entries)
    assert capacity * 2 * 4 <= 128  # a quarter of the bitmask, 2-byte ids
    assert dist.exchange.sent_bytes([capacity, 0], n_entries) == capacity * 2 + 4
    assert dist.exchange.sent_bytes([capacity + 1, 0], n_entries) == 128 + 4
    assert dist.exchange.id_bytes(2**16) == 4


def test_bad_layouts_raise_clearly():
    mesh = row_meshes()[-1]
    network = _network(2)  # target blocks for 2 devices on a 4-device axis
    state = network.init(jax.random.key(9), (BATCH,))
    with pytest.raises(ValueError, match="has 2 target blocks; mesh axis 'rows' has 4"):
        dist.simulate(network, state, 2, mesh=mesh, axis="rows")
    odd = spars.Network({"a": neurons.LIF(6)}, {})
    with pytest.raises(ValueError, match=r"population 'a'.s size \(6\) must be a multiple of"):
        dist.simulate(odd, odd.init(jax.random.key(0)), 2, mesh=mesh, axis="rows")
    with pytest.raises(ValueError, match="replicated names unknown projections"):
        dist.simulate(network, state, 2, mesh=row_meshes()[1], axis="rows", replicated=("x",))
    with pytest.raises(ValueError, match="'ff' is split by target blocks"):
        dist.simulate(network, state, 2, mesh=row_meshes()[1], axis="rows", replicated=("ff",))
    conn, w = projection(jax.random.key(1), 8, 8, p=0.5)
    delays = jnp.where(conn.mask, 2, 0)
    delayed = spars.Network({"a": neurons.LIF(8)}, {"d": spars.Projection("a", "a", conn, w,
                                                                          delays, 3)})  # fmt: skip
    with pytest.raises(ValueError, match="projection 'd' has delays"):
        dist.simulate(delayed, delayed.init(jax.random.key(0)), 2, mesh=mesh, axis="rows")


def test_split_and_merge_targets_round_trip():
    conn, w = projection(jax.random.key(10), 12, 8, p=0.4)
    variables = {"w": w, "count": jnp.int32(3)}
    blocks, split = dist.split_targets(conn, variables, 4, headroom=1.5)
    assert split["w"].shape == blocks.indices.shape and split["count"] == 3
    assert np.all(np.asarray(blocks.indices) <= 2)  # local ids of 2-neuron blocks, padding 2
    back, merged = dist.merge_targets(blocks, split)
    dense = lambda c, v: np.asarray(spars.to_dense(c, v))  # noqa: E731
    np.testing.assert_array_equal(dense(back, merged["w"]), dense(conn, w))
    spars.validate(back)
    spikes = (jax.random.uniform(jax.random.key(11), (3, 12)) < 0.5).astype(jnp.float32)
    whole = dist.BlockedProjection("a", "b", blocks, split["w"]).input(spikes)
    assert_close(whole, spars.propagate(conn, w, spikes))
