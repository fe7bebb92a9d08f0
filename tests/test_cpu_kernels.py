"""CPU kernels (numba loops as XLA custom calls) against the XLA twins and NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import kernels
from spars.kernels import propagation as KP
from spars.kernels._events import event_list

from .test_delays import random_delays
from .test_kernels import PROPAGATION, make_projection, make_spikes

pytest.importorskip("numba")
from spars.kernels.cpu import propagation as KC  # noqa: E402

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU kernels")


@pytest.mark.parametrize("case, pattern, batch", PROPAGATION)
def test_propagation_loops_equal_dense_and_twins(case, pattern, batch):
    conn, w, dense = make_projection(case)
    s = make_spikes(pattern, batch, conn.n_pre)
    g = np.random.default_rng(2).normal(size=(batch, conn.n_post)).astype(np.float32)
    mask = np.asarray(conn.mask)
    got = jax.jit(lambda s, g: (
        KC.push(conn.row_length, conn.indices, w, s, n_post=conn.n_post),
        KC.weight_grad(conn.row_length, conn.indices, s, g),
        KC.spike_grad(conn.row_length, conn.indices, w, g),
    ))(s, g)
    dense_w = np.where(mask, (s.T @ g)[np.arange(conn.n_pre)[:, None], np.minimum(
        np.asarray(conn.indices), conn.n_post - 1)], 0.0)
    for value, want in zip(got, (s @ dense, dense_w, g @ dense.T), strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5)
    ids, count = event_list(jnp.asarray(s), 16)
    twin = KP.push_reference(ids, count, conn.row_length, conn.indices, w, jnp.asarray(s),
                             n_post=conn.n_post, capacity=16)
    np.testing.assert_allclose(got[0], twin, rtol=1e-6, atol=1e-6)


def _loss_pieces(conn, w, s, g):
    out, vjp = jax.vjp(lambda w, s: spars.propagate(conn, w, s), w, s)
    return (out, *vjp(g))


def _against_twin(fn, *args):
    got = fn(*args)
    with kernels.backend("xla"):
        want = fn(*args)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case, pattern, batch", PROPAGATION)
def test_propagate_and_vjp_equal_twin_under_jit(case, pattern, batch):
    conn, w, _ = make_projection(case)
    s = jnp.asarray(make_spikes(pattern, batch, conn.n_pre))
    g = jax.random.normal(jax.random.key(3), (batch, conn.n_post))
    _against_twin(jax.jit(lambda w, s, g: _loss_pieces(conn, w, s, g)), w, s, g)


def test_vmap_over_spikes_folds_and_over_weights_maps():
    conn, w, _ = make_projection("mixed")
    s = jnp.asarray(np.stack([make_spikes("random", 3, conn.n_pre, seed=k) for k in range(4)]))
    g = jax.random.normal(jax.random.key(4), (4, 3, conn.n_post))
    shared = jax.jit(jax.vmap(lambda s, g: _loss_pieces(conn, w, s, g)))
    _against_twin(shared, s, g)
    ws = w[None] * jnp.arange(1.0, 5.0)[:, None, None]
    own = jax.jit(jax.vmap(lambda w, s, g: _loss_pieces(conn, w, s, g)))
    _against_twin(own, ws, s, g)
    nested = jax.jit(jax.vmap(jax.vmap(lambda s, g: _loss_pieces(conn, w, s, g))))
    _against_twin(nested, s[:, :, None], g[:, :, None])


def test_scan_gradient_through_time_equals_twin():
    conn, w, _ = make_projection("long rows")
    drive = jnp.asarray(np.stack([make_spikes("random", 2, conn.n_pre, seed=k) for k in range(5)]))

    def loss(w):
        def step(v, s):
            v = 0.9 * v + spars.propagate(conn, w, s)
            return v, jnp.tanh(v)

        _, out = jax.lax.scan(step, jnp.zeros((2, conn.n_post)), drive)
        return jnp.sum(out**2)

    _against_twin(jax.jit(jax.value_and_grad(loss)), w)


def test_targets_outside_range_are_skipped_like_the_twin():
    conn, w, _ = make_projection("full rows")
    broken = conn.indices.at[0, 0].set(conn.n_post + 5).at[1, 2].set(-3)
    bad = spars.Connectivity(broken, conn.row_length, conn.n_post)
    s = jnp.ones((2, conn.n_pre))
    g = jnp.ones((2, conn.n_post))
    _against_twin(jax.jit(lambda w, s, g: _loss_pieces(bad, w, s, g)), w, s, g)


def test_compiled_program_calls_the_loops_unless_xla_is_forced():
    conn, w, _ = make_projection("mixed")
    s = jnp.ones((2, conn.n_pre))

    def hlo():
        grad = jax.value_and_grad(lambda w, s: spars.propagate(conn, w, s).sum(), (0, 1))
        return jax.jit(grad).lower(w, s).as_text()

    text = hlo()
    for name in ("spars_cpu_push", "spars_cpu_weight_grad", "spars_cpu_spike_grad"):
        assert name in text
    with kernels.backend("xla"):
        assert "spars_cpu" not in hlo()


def test_other_dtypes_run_the_twin():
    conn, w, dense = make_projection("mixed")
    s = make_spikes("random", 2, conn.n_pre)
    out = spars.propagate(conn, w.astype(jnp.bfloat16), s)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(out, np.float32), s @ dense, rtol=0.05, atol=0.05)


def test_float64_loops_match_dense():
    conn, w, dense = make_projection("long rows")
    s = make_spikes("random", 3, conn.n_pre)
    with jax.enable_x64(True):
        w64 = jnp.asarray(np.asarray(w), jnp.float64)
        out = jax.jit(lambda w, s: spars.propagate(conn, w, s))(w64, jnp.asarray(s, jnp.float64))
        assert out.dtype == jnp.float64
        np.testing.assert_allclose(out, s.astype(np.float64) @ dense, rtol=1e-6, atol=1e-6)


def _delayed_pieces(conn, w, d, s, values, g, now=2):
    def push(w, d, s, values):
        buffer = spars.DelayBuffer(values, now, values.shape[-1] // conn.n_post)
        return spars.propagate_delayed(conn, w, d, s, buffer).values

    out, vjp = jax.vjp(push, w, d, s, values)
    grads = vjp(g)
    return (out, *(x for x in grads if x.dtype != jax.dtypes.float0))


@pytest.mark.parametrize("kind", ["int", "float"])
@pytest.mark.parametrize("case, pattern, batch", PROPAGATION)
def test_delayed_push_and_vjp_equal_twin_under_jit(case, pattern, batch, kind):
    conn, w, _ = make_projection(case)
    d = random_delays(conn, kind, max_delay=4)
    s = jnp.asarray(make_spikes(pattern, batch, conn.n_pre))
    values = jax.random.normal(jax.random.key(5), (batch, 4 * conn.n_post))
    g = jax.random.normal(jax.random.key(6), values.shape)
    _against_twin(jax.jit(lambda *a: _delayed_pieces(conn, *a)), w, d, s, values, g)


def test_delayed_under_vmap_equals_twin_and_calls_the_loops():
    conn, w, _ = make_projection("mixed")
    d = random_delays(conn, "float", max_delay=3)
    s = jnp.asarray(np.stack([make_spikes("random", 2, conn.n_pre, seed=k) for k in range(3)]))
    values = jax.random.normal(jax.random.key(7), (3, 2, 3 * conn.n_post))
    g = jax.random.normal(jax.random.key(8), values.shape)
    shared = jax.jit(jax.vmap(lambda s, v, g: _delayed_pieces(conn, w, d, s, v, g)))
    _against_twin(shared, s, values, g)
    ws = w[None] * jnp.arange(1.0, 4.0)[:, None, None]
    own = jax.jit(jax.vmap(lambda w, s, v, g: _delayed_pieces(conn, w, d, s, v, g)))
    _against_twin(own, ws, s, values, g)
    text = jax.jit(lambda *a: _delayed_pieces(conn, *a)).lower(w, d, s[0], values[0],
                                                               g[0]).as_text()  # fmt: skip
    assert "spars_cpu_push_delayed" in text and "spars_cpu_grads_delayed" in text


def test_pop_reads_clears_and_differentiates_like_the_twin_under_vmap():
    values = jax.random.normal(jax.random.key(9), (3, 2, 4 * 5))  # 3 buffers, batch 2, D 4
    nows = jnp.asarray([0, 3, 1], jnp.int32)
    g = jax.random.normal(jax.random.key(10), (3, 2, 5))

    def pieces(v, now, g):
        (current, cleared), vjp = jax.vjp(lambda v: _popped(v, now), v)
        return current, cleared, vjp((g, jnp.ones_like(cleared)))[0]

    for now_axis in (0, None):  # own clocks (one call each) or one shared clock (one call)
        fn = jax.jit(jax.vmap(pieces, in_axes=(0, now_axis, 0)))
        _against_twin(fn, values, nows if now_axis == 0 else nows[1], g)
    current, cleared, _ = jax.jit(pieces)(values[1], nows[1], g[1])
    slots = np.asarray(values[1]).reshape(2, 4, 5)
    np.testing.assert_array_equal(current, slots[:, 3])
    assert not np.any(np.asarray(cleared).reshape(2, 4, 5)[:, 3])
    assert "spars_cpu_pop" in jax.jit(pieces).lower(values[1], nows[1], g[1]).as_text()


def _popped(values, now):
    current, buffer = spars.DelayBuffer(values, now, 4).pop()
    return current, buffer.values


@pytest.mark.parametrize("size", [1, 5, 40])
def test_nonzero_rows_lists_like_the_twin_and_counts_beyond_its_size(size):
    from spars.kernels.cpu.events import nonzero_rows
    from spars.recording import _nonzero_twin

    flat = np.zeros((4, 30), np.float32)
    flat[1, [0, 7, 29]] = [1.0, -2.0, 0.5]  # graded values count too
    flat[2] = 1.0  # all spiking; row 0 and 3: none
    flat[3, 29] = 1.0
    got = jax.jit(lambda f: nonzero_rows(f, size))(flat)
    want = _nonzero_twin(jnp.asarray(flat), size)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got[1], [0, 3, 30, 1])
    stacked = np.stack([flat, flat[::-1]])
    mapped = jax.jit(jax.vmap(lambda f: nonzero_rows(f, size)))(stacked)
    np.testing.assert_array_equal(mapped[0][1], _nonzero_twin(jnp.asarray(flat[::-1]), size)[0])
    assert "spars_cpu_nonzero_rows" in jax.jit(lambda f: spars.spike_recorder(["x"], size)(
        spars.NetworkState({}, {"x": f}))).lower(flat).as_text()  # fmt: skip


@pytest.mark.parametrize("case, p_keep", [("mixed", 0.6), ("empty rows", 0.0),
                                          ("full rows", 1.0), ("long rows", 0.3)])  # fmt: skip
def test_compaction_loop_equals_twin_for_every_dtype(case, p_keep):
    from spars.kernels import structure as KS
    from spars.kernels.cpu import structure as KCS

    conn, w, _ = make_projection(case)
    keep = jnp.asarray(np.random.default_rng(3).random(conn.indices.shape) < p_keep)
    mask = conn.mask
    variables = (w, jnp.where(mask, jnp.arange(w.size).reshape(w.shape), 0).astype(jnp.int32),
                 mask & (w > 0), (w * 3).astype(jnp.bfloat16), (w * 9).astype(jnp.int8))
    args = (keep, conn.row_length, conn.indices, *variables)
    twin = KS.compact_rows_reference(*args, n_post=conn.n_post)
    loop = jax.jit(lambda *a: KCS.compact_rows(*a, n_post=conn.n_post))(*args)
    for a, b in zip(twin, loop, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


@pytest.mark.parametrize("headroom", [3, -1])  # padding to fill, or an overflowing column
@pytest.mark.parametrize("case", ["mixed", "empty rows", "long rows"])
def test_column_loop_equals_twin(case, headroom):
    from spars.kernels import columns as KC
    from spars.kernels.cpu import structure as KCS

    conn, _, dense = make_projection(case)
    max_col = max(int((dense != 0).sum(0).max()) + headroom, 0)
    static = {"n_post": conn.n_post, "max_col": max_col}
    twin = KC.build_reference(conn.row_length, conn.indices, **static)
    loop = jax.jit(lambda r, i: KCS.build_columns(r, i, **static))(conn.row_length, conn.indices)
    for a, b in zip(twin, loop, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "spars_cpu_build_columns" in jax.jit(
        lambda c: spars.column_view(c, max_col=max_col)).lower(conn).as_text()  # fmt: skip
