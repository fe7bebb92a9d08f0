"""Data-parallel e-prop and BPTT, with row-sharded synapses, and a rewired training step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import pytest

import spars
from spars import distributed as dist
from spars import learning, neurons, rules
from spars.distributed import rules as DR

from .helpers import assert_close, assert_same

N_IN, N_REC, N_OUT, T, BATCH = 16, 24, 3, 20, 8


def _model():
    k = jax.random.split(jax.random.key(40), 6)
    c_in = spars.fixed_probability(k[0], N_IN, N_REC, p=0.4, headroom=1.2)
    c_rec = spars.fixed_probability(k[1], N_REC, N_REC, p=0.2, headroom=1.5)

    def weights(conn, key, scale):
        return jnp.where(conn.mask, scale * jax.random.normal(key, conn.indices.shape), 0.0)

    hidden = neurons.LIF(N_REC, tau_mem=10.0, reset_by_subtraction=True)
    return learning.RecurrentSNN(
        learning.SparseSynapses(c_in, weights(c_in, k[2], 1.0)),
        learning.SparseSynapses(c_rec, weights(c_rec, k[3], 0.3)),
        0.3 * jax.random.normal(k[4], (N_REC, N_OUT)), jnp.zeros(N_OUT), hidden,
        neurons.LeakyIntegrator(N_OUT),
    )  # fmt: skip


def _batch():
    x = (jax.random.uniform(jax.random.key(41), (T, BATCH, N_IN)) < 0.2).astype(jnp.float32)
    return x, jnp.arange(BATCH) % N_OUT


MESHES = {  # (data, rows) for the devices used: 1, 2 and 4
    "eprop": ((1, 1), (1, 2), (2, 2)),
    "bptt": ((2, 2),),
}


@pytest.mark.parametrize("method", sorted(MESHES))
def test_data_parallel_gradients_equal_one_device(method):
    grad_fn = {"eprop": learning.eprop_grads, "bptt": learning.bptt_grads}[method]
    model, (x, labels) = _model(), _batch()
    reg = learning.RateRegularisation(c_reg=0.1)
    want, metrics = jax.jit(grad_fn)(model, x, labels, reg)
    assert float(jnp.abs(want.w_rec.weight).max()) > 0
    for shape in MESHES[method]:
        mesh = dist.make_mesh(shape, ("data", "rows"), devices=jax.devices()[: shape[0] * shape[1]])
        sharded = dist.shard_synapses(model, mesh, "rows")
        f = dist.data_parallel(grad_fn, mesh, batch_axis="data")
        got, got_metrics = jax.jit(f)(sharded, x, labels, reg)
        assert_close(jax.tree.leaves(got), jax.tree.leaves(want), rtol=1e-5, atol=1e-6)
        assert int(got_metrics.correct) == int(metrics.correct)
        assert_close((got_metrics.loss, got_metrics.rate), (metrics.loss, metrics.rate))


def test_rewired_training_step_equals_one_device():
    """An Adam step and DEEP R on row-sharded theta, from the same gradients."""
    model = _model()
    conn, w = model.w_rec.conn, model.w_rec.weight
    deep = rules.deep_r_init(jax.random.key(42), conn, w)
    params = {"rec": deep["theta"] - 0.05, "out": model.w_out}
    grads, _ = jax.jit(learning.eprop_grads)(model, *_batch())
    grads = {"rec": grads.w_rec.weight * deep["sign"], "out": grads.w_out}
    optimizer = optax.chain(rules.deep_r_l1(1e-3), optax.adam(0.05))
    mesh = dist.make_mesh((2, 2), ("data", "rows"))

    def step(rule, params, grads):
        train = rules.rewiring(optimizer, rule, variable="theta")
        state = train.init(params, {"rec": conn}, fixed={"rec": {"sign": deep["sign"]}})
        state, stats = train.update(jax.random.key(43), grads, state)
        return train.update(jax.random.key(44), grads, state)[0], stats

    want = jax.jit(lambda p, g: step(rules.deep_r, p, g))(params, grads)
    assert int(want[1]["rec"].removed) > 0
    got = jax.jit(lambda p, g: step(dist.row_sharded(DR.deep_r, mesh, "rows"), p, g))(params, grads)
    assert_same(got, want)


def test_bad_batch_and_rows_are_named():
    model, (x, labels) = _model(), _batch()
    mesh = dist.make_mesh((4, 1), ("data", "rows"))
    f = dist.data_parallel(learning.bptt_grads, mesh, batch_axis="data")
    with pytest.raises(ValueError, match=r"the batch .*\(6\) must be a multiple of the 4"):
        f(model, x[:, :6], labels[:6])
    three = dist.make_mesh((1, 3), ("data", "rows"), devices=jax.devices()[:3])
    with pytest.raises(ValueError, match=r"n_pre .*\(16\) must be a multiple of the 3"):
        dist.shard_synapses(model, three, "rows")
    sharded = dist.shard_synapses(model, dist.make_mesh((2, 2), ("data", "rows")), "rows")
    with pytest.raises(ValueError, match="online=False"):
        learning.eprop_grads(sharded, x, labels, online=True)


def test_models_keep_their_structure():
    model = _model()
    mesh = dist.make_mesh((2, 2), ("data", "rows"))
    back = dist.unshard_synapses(dist.shard_synapses(model, mesh, "rows"))
    assert_same(eqx.filter(back, eqx.is_array), eqx.filter(model, eqx.is_array))
