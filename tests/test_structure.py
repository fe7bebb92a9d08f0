import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spars
from spars import structure

from .reference import add_pairs_reference, pairs_of, rows_of
from .strategies import examples, sparse_dense


def _projection(w, headroom=2.0):
    conn, weights = spars.from_dense(w, headroom=headroom)
    return conn, {"weight": weights, "trace": weights * 10.0}


@examples(15)
@given(sparse_dense(), st.integers(0, 2**31 - 1))
def test_remove_compacts_rows_and_moves_variables(w, seed):
    conn, variables = _projection(w)
    keep = np.random.default_rng(seed).random(conn.indices.shape) < 0.6
    new, moved, removed = jax.jit(structure.remove)(conn, keep, variables)
    spars.validate(new, moved)
    before = rows_of(conn, variables["weight"], variables["trace"])
    after = rows_of(new, moved["weight"], moved["trace"])
    for i, row in before.items():
        assert after[i] == [s for k, s in enumerate(row) if keep[i, k]]
    assert int(removed) == sum(map(len, before.values())) - sum(map(len, after.values()))


@examples(15)
@given(sparse_dense(), st.integers(0, 2**31 - 1), st.integers(0, 12))
def test_remove_listed_equals_remove_with_a_keep_mask(w, seed, k):
    """Listed slots (repeats, padding and invalid entries included) as a keep mask."""
    conn, variables = _projection(w)
    rng = np.random.default_rng(seed)
    pre = rng.integers(-1, conn.n_pre + 1, k)
    slot = rng.integers(0, conn.max_row, k) if conn.max_row else np.zeros(k, int)
    valid = rng.random(k) < 0.8
    keep = np.ones(conn.indices.shape, bool)
    for i, s, v in zip(pre, slot, valid, strict=True):
        if v and 0 <= i < conn.n_pre and conn.max_row:
            keep[i, s] = False
    expected = structure.remove(conn, keep, variables)
    got = jax.jit(structure.remove_listed)(conn, pre, slot, variables, valid=valid)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)


@examples(15)
@given(sparse_dense(), st.integers(0, 2**31 - 1), st.sampled_from([None, 0, 3, 1000]))
def test_add_pairs_equals_one_at_a_time_reference(w, seed, limit):
    conn, variables = _projection(w, headroom=1.3)
    rng = np.random.default_rng(seed)
    k = 24
    pre = rng.integers(-1, conn.n_pre + 1, k)
    post = rng.integers(-1, conn.n_post + 1, k)
    pre[k // 2 :], post[k // 2 :] = pre[: k // 2], post[: k // 2]  # repeats
    values = rng.normal(size=k).astype(np.float32)
    asked = rng.random(k) < 0.8
    new, moved, stats = jax.jit(structure.add_pairs)(
        conn, pre, post, variables["weight"], values, valid=asked, limit=limit
    )
    spars.validate(new, moved)
    expect_rows, expect_stats = add_pairs_reference(
        rows_of(conn, variables["weight"]),
        conn.n_pre,
        conn.n_post,
        conn.max_row,
        pre,
        post,
        values,
        asked,
        limit,
    )
    assert rows_of(new, moved) == expect_rows
    assert tuple(int(s) for s in stats) == expect_stats


def test_add_per_row_counts_and_default_values():
    conn, w = spars.from_dense(np.array([[1.0, 0, 0, 0], [0, 2.0, 0, 0]]), max_row=3)
    targets = np.array([[0, 2, 3], [1, 3, 3]])
    new, variables, stats = structure.add(
        conn, targets, {"w": w, "t": w}, {"w": 5.0, "t": 0.0}, valid=np.array([3, 2])
    )
    # row 0: 0 is present (rejected), 2 fits, 3 fits; row 1: 1 present, 3 fits.
    assert rows_of(new, variables["w"]) == {
        0: [(0, 1.0), (2, 5.0), (3, 5.0)],
        1: [(1, 2.0), (3, 5.0)],
    }
    assert tuple(int(s) for s in stats) == (3, 2, 0)
    full, _, stats = structure.add(new, np.array([[1], [0]]), None)
    assert tuple(int(s) for s in stats) == (1, 0, 1)  # row 0 is full: overflow
    assert int(full.n_synapses) == 6


def test_primitives_vmap_over_networks():
    rng = np.random.default_rng(0)
    nets = [
        _projection(rng.normal(size=(6, 5)) * (rng.random((6, 5)) < 0.5), 1.0) for _ in range(3)
    ]
    width = max(c.max_row for c, _ in nets) + 2
    nets = [structure.trim(c, v, width) for c, v in nets]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *nets)
    keep = rng.random((3, 6, width)) < 0.5
    pre, post = rng.integers(0, 6, (3, 10)), rng.integers(0, 5, (3, 10))

    def step(net, keep, pre, post):
        conn, variables = net
        conn, variables, _ = structure.remove(conn, keep, variables)
        return structure.add_pairs(conn, pre, post, variables, None)

    batched = jax.vmap(step)(stacked, keep, pre, post)
    for b, net in enumerate(nets):
        single = step(net, keep[b], pre[b], post[b])
        jax.tree.map(lambda x, y, b=b: np.testing.assert_array_equal(x[b], y), batched, single)


@examples(15)
@given(sparse_dense(), st.sampled_from([None, 1, 2]))
def test_column_view_lists_each_column_by_pre(w, max_col):
    conn, weights = spars.from_dense(w, headroom=1.5)
    view = spars.column_view(conn, max_col)
    pre_np, slot_np = np.asarray(view.pre), np.asarray(view.slot)
    idx = np.asarray(conn.indices)
    expect_overflow = 0
    for j in range(conn.n_post):
        entries = [
            (i, k)
            for i in range(conn.n_pre)
            for k in range(int(conn.row_length[i]))
            if idx[i, k] == j
        ]
        width = len(entries) if max_col is None else min(len(entries), max_col)
        expect_overflow += len(entries) - width
        assert int(view.col_length[j]) == width
        got = list(zip(pre_np[j, :width], slot_np[j, :width], strict=True))
        assert got == entries[:width]
        assert np.all(pre_np[j, width:] == conn.n_pre)
    assert int(view.overflow) == expect_overflow
    dense = np.asarray(spars.to_dense(conn, weights))
    gathered = np.asarray(view.gather(weights))
    for j in range(conn.n_post):
        n = int(view.col_length[j])
        np.testing.assert_array_equal(gathered[j, :n], dense[pre_np[j, :n], j])
        assert np.all(gathered[j, n:] == 0)


def test_column_view_large_key_path_matches_small():
    conn = spars.fixed_probability(jax.random.key(3), 300, 200, 0.05, headroom=1.2)
    from spars.kernels import columns

    args, static = (conn.row_length, conn.indices), {"n_post": 200, "max_col": 40}
    small = columns.build_reference(*args, **static)
    keys = columns._INT32_MAX
    try:
        columns._INT32_MAX = 0  # force the two-operand sort (read at trace time: no jit here)
        large = columns.build_reference(*args, **static)
    finally:
        columns._INT32_MAX = keys
    jax.tree.map(np.testing.assert_array_equal, small, large)
    np.testing.assert_array_equal(
        spars.in_degree(conn),
        np.bincount(np.asarray(conn.indices)[np.asarray(conn.mask)], minlength=200),
    )


def test_column_view_under_jit_needs_max_col():
    conn = spars.fixed_probability(jax.random.key(0), 20, 10, 0.3)
    with pytest.raises(ValueError, match="needs an explicit"):
        jax.jit(spars.column_view)(conn)
    view = jax.jit(spars.column_view, static_argnums=1)(conn, 20)
    assert int(view.col_length.sum()) == int(conn.n_synapses)


def test_trim_shrinks_capacity_and_rejects_too_short():
    conn, w = spars.from_dense(np.array([[1.0, 2.0, 0], [0, 0, 3.0]]), max_row=5)
    short, w2 = structure.trim(conn, w)
    assert short.max_row == 2
    assert pairs_of(short, w2) == pairs_of(conn, w)
    spars.validate(short, w2)
    with pytest.raises(ValueError, match="shorter than the longest row"):
        structure.trim(conn, w, 1)


def test_variables_of_other_shapes_pass_through_unchanged():
    conn, w = spars.from_dense(np.eye(3), max_row=2)
    other = {"w": w, "count": jnp.zeros(()), "readout": jnp.ones((3, 5))}
    _, moved, _ = structure.remove(conn, conn.mask & (np.arange(2) < 1), other)
    assert moved["count"] is other["count"] and moved["readout"] is other["readout"]
    np.testing.assert_array_equal(moved["w"], w)
    with pytest.raises(ValueError, match=r"keep has shape \(3, 3\), expected \(3, 2\)"):
        structure.remove(conn, np.ones((3, 3), bool), w)


def test_remove_listed_on_empty_projections_and_lists():
    for conn in (spars.empty(0, 3, 2), spars.empty(4, 3, 0), spars.empty(4, 3, 2)):
        new, _, removed = structure.remove_listed(conn, [0, 1], [0, 1])
        assert int(removed) == 0 and new.indices.shape == conn.indices.shape
    new, _, removed = structure.remove_listed(spars.empty(4, 3, 2), [], [])
    assert int(removed) == 0


def test_cap_rows_sizes_rows_from_a_quantile_and_counts_what_it_cuts():
    conn = spars.fixed_probability(jax.random.key(0), 4000, 2000, 0.005)  # rows ~ Poisson(10)
    w = jnp.where(conn.mask, jnp.arange(conn.max_row, dtype=jnp.float32)[None, :] + 1.0, 0.0)
    length = np.asarray(conn.row_length)
    capped, moved, dropped = spars.structure.cap_rows(conn, {"w": w}, quantile=0.99)
    width = int(np.ceil(np.quantile(length, 0.99)))
    assert capped.max_row == width < conn.max_row
    assert dropped == int(np.maximum(length - width, 0).sum()) > 0
    np.testing.assert_array_equal(capped.row_length, np.minimum(length, width))
    np.testing.assert_array_equal(capped.indices, np.asarray(conn.indices)[:, :width])
    np.testing.assert_array_equal(moved["w"], np.asarray(w)[:, :width])  # each row's first
    spars.validate(capped)
    grown, _, none = spars.structure.cap_rows(conn, quantile=1.0, headroom=1.5)
    assert none == 0 and grown.max_row == int(np.ceil(1.5 * length.max()))
    empty, _, zero = spars.structure.cap_rows(spars.empty(5, 3, 4), quantile=0.5)
    assert empty.max_row == 0 and zero == 0
    with pytest.raises(ValueError, match="quantile must lie in"):
        spars.structure.cap_rows(conn, quantile=1.5)
