import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spars

from .strategies import examples, sparse_dense, spike_array

CAPACITIES = st.sampled_from([None, 1, 2, 5])  # small ones force many chunks


def _case(w, headroom=1.5):
    conn, values = spars.from_dense(w, headroom=headroom)
    return conn, values


def _dense_grads(w, spikes, probe):
    """Reference gradients of sum(probe * (spikes @ w)) for a dense matrix."""
    s = spikes.reshape(-1, w.shape[0])
    p = probe.reshape(-1, w.shape[1])
    d_w = (s.T @ p) * (w != 0)
    d_s = (p @ w.T).reshape(spikes.shape)
    return d_w, d_s


@examples(8)  # each example compiles; tests/test_kernels.py adds fixed cases
@given(st.data(), sparse_dense(), st.sampled_from([(), (1,), (3,), (2, 2)]), CAPACITIES)
def test_forward_equals_dense(data, w, batch, capacity):
    conn, values = _case(w)
    spikes = data.draw(spike_array(batch, w.shape[0]))
    out = spars.propagate(conn, values, spikes, event_capacity=capacity)
    np.testing.assert_allclose(out, spikes @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        spars.propagate_reference(conn, values, spikes), spikes @ w, rtol=1e-5, atol=1e-5
    )


@examples(8)
@given(st.data(), sparse_dense(allow_empty=False), st.sampled_from([(), (4,)]), CAPACITIES)
def test_gradients_equal_dense(data, w, batch, capacity):
    conn, values = _case(w)
    spikes = data.draw(spike_array(batch, w.shape[0]))
    probe = np.random.default_rng(0).normal(size=(*batch, w.shape[1])).astype(np.float32)

    def loss(v, s):
        return jnp.vdot(spars.propagate(conn, v, s, event_capacity=capacity), probe)

    d_values, d_spikes = jax.jit(jax.grad(loss, argnums=(0, 1)))(values, spikes)
    ref_w, ref_s = _dense_grads(w, spikes, probe)
    np.testing.assert_allclose(spars.to_dense(conn, d_values), ref_w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_spikes, ref_s, rtol=1e-5, atol=1e-5)
    assert not np.any(np.asarray(d_values)[~np.asarray(conn.mask)])  # padding stays zero


def test_under_vmap_over_networks():
    rng = np.random.default_rng(0)
    ws = rng.normal(size=(3, 10, 7)).astype(np.float32) * (rng.random((3, 10, 7)) < 0.4)
    conns, values = zip(*(spars.from_dense(w, max_row=7) for w in ws), strict=True)
    conn = jax.tree.map(lambda *x: jnp.stack(x), *conns)
    values = jnp.stack(values)
    spikes = (rng.random((3, 5, 10)) < 0.3).astype(np.float32)
    out = jax.vmap(spars.propagate)(conn, values, spikes)
    np.testing.assert_allclose(out, np.einsum("nbi,nij->nbj", spikes, ws), rtol=1e-5, atol=1e-6)

    grads = jax.vmap(jax.grad(lambda c, v, s: spars.propagate(c, v, s).sum(), argnums=1))(
        conn, values, spikes
    )
    for n in range(3):
        ref = (spikes[n].sum(0)[:, None] * np.ones((1, 7))) * (ws[n] != 0)
        np.testing.assert_allclose(spars.to_dense(conns[n], grads[n]), ref, rtol=1e-5)


def test_under_vmap_over_spike_batch_only():
    w = np.random.default_rng(1).normal(size=(9, 6)).astype(np.float32)
    conn, values = _case(w)
    spikes = (np.random.default_rng(2).random((4, 9)) < 0.5).astype(np.float32)
    out = jax.vmap(lambda s: spars.propagate(conn, values, s, event_capacity=2))(spikes)
    np.testing.assert_allclose(out, spikes @ w, rtol=1e-5, atol=1e-6)


def test_gradients_through_scan_equal_dense_recurrence():
    rng = np.random.default_rng(3)
    w = (rng.normal(size=(8, 8)) * (rng.random((8, 8)) < 0.5)).astype(np.float32)
    conn, values = _case(w)
    drive = rng.normal(size=(6, 2, 8)).astype(np.float32)

    def run(propagate_fn, weights):
        def step(x, d):
            x = jnp.tanh(propagate_fn(weights, x) + d)
            return x, x

        return jax.lax.scan(step, jnp.zeros((2, 8)), drive)[1].sum()

    sparse_loss = lambda v: run(lambda v_, x: spars.propagate(conn, v_, x), v)  # noqa: E731
    dense_loss = lambda m: run(lambda m_, x: x @ m_, m)  # noqa: E731
    np.testing.assert_allclose(sparse_loss(values), dense_loss(w), rtol=1e-5)
    g_sparse = spars.to_dense(conn, jax.jit(jax.grad(sparse_loss))(values))
    g_dense = jax.grad(dense_loss)(jnp.asarray(w)) * (w != 0)
    np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-4, atol=1e-5)


def test_step_compiles_once():
    w = np.random.default_rng(4).normal(size=(12, 10)).astype(np.float32)
    conn, values = _case(w)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def step(v, s):
        return jax.grad(lambda v_: spars.propagate(conn, v_, s).sum())(v)

    for seed in range(4):  # different spike counts, same shapes
        s = (np.random.default_rng(seed).random((3, 12)) < 0.2 * seed).astype(np.float32)
        step(values, s)


def test_integer_and_bool_spikes_and_dtype():
    w = np.eye(3, dtype=np.float32) * 2.0
    conn, values = _case(w)
    out = spars.propagate(conn, values, jnp.array([True, False, True]))
    np.testing.assert_array_equal(out, [2.0, 0.0, 2.0])
    assert out.dtype == values.dtype
    out16 = spars.propagate(conn, values.astype(jnp.bfloat16), jnp.array([1, 1, 0]))
    assert out16.dtype == jnp.bfloat16


def test_bad_shapes_are_clear_errors():
    conn, values = _case(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"weights shape \(4, 3\) must equal"):
        spars.propagate(conn, jnp.zeros((4, 3)), jnp.zeros(4))
    with pytest.raises(ValueError, match="must end in n_pre=4"):
        spars.propagate(conn, values, jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="event_capacity must be >= 1"):
        spars.propagate(conn, values, jnp.zeros(4), event_capacity=0)
    with pytest.raises(ValueError, match="event_capacity must be >= 1"):
        spars.propagate(conn, values, jnp.zeros((0, 4)), event_capacity=0)


def test_padding_sentinel_never_leaks_into_next_batch_row():
    # A padded slot holds index n_post; with batch > 1 it must not reach row b + 1.
    conn = spars.Connectivity(np.array([[0, 2], [1, 2]]), np.array([1, 1]), 2)
    values = jnp.array([[1.0, 0.0], [10.0, 0.0]])
    spikes = jnp.array([[1.0, 1.0], [1.0, 0.0]])
    out = spars.propagate(conn, values, spikes, event_capacity=1)
    np.testing.assert_array_equal(out, [[1.0, 10.0], [1.0, 0.0]])


def test_shared_event_list_gives_the_same_input_and_gradients():
    conn = spars.fixed_probability(jax.random.key(0), 60, 40, 0.2)
    w = jnp.where(conn.mask, jax.random.normal(jax.random.key(1), conn.indices.shape), 0.0)
    s = (jax.random.uniform(jax.random.key(2), (3, 60)) < 0.3).astype(jnp.float32)
    events = spars.spike_events(s, event_capacity=8)
    assert int(events.count) == int(jnp.sum(s != 0))

    def loss(w, s, events=None):
        return jnp.sum(jnp.sin(spars.propagate(conn, w, s, events=events)))

    np.testing.assert_allclose(
        jax.jit(loss)(w, s, events), loss(w, s), rtol=1e-6
    )
    for a, b in zip(jax.grad(loss, (0, 1))(w, s, events), jax.grad(loss, (0, 1))(w, s),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="events list"):
        spars.propagate(conn, w, s[:2], events=events)
