"""Pallas kernels: interpret mode against their XLA twins and NumPy, CUDA lowering, dispatch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import kernels
from spars.kernels import columns as KC
from spars.kernels import propagation as KP
from spars.kernels import structure as KS
from spars.kernels._events import event_list

CAPACITY = 16
# Interpret mode everywhere; on a GPU also the compiled kernels against the same twins.
INTERPRET = [True] + ([False] if jax.default_backend() == "gpu" else [])
MODES = ["interpret" if i else "auto" for i in INTERPRET]  # backends that run the kernels
CPU_MODES = ["auto"] if jax.default_backend() == "cpu" else []  # the CPU loops, where they run

# (n_pre, n_post, max_row, row-length rule); max_row 150 spans two slot blocks.
CASES = {
    "mixed": (23, 19, 7, "random"),
    "empty rows": (17, 11, 5, "some empty"),
    "full rows": (13, 29, 9, "full"),
    "long rows": (9, 300, 150, "random"),
}


def make_projection(case: str, seed: int = 0):
    """A valid padded-row projection with random weights, and its dense matrix."""
    n_pre, n_post, max_row, rule = CASES[case]
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_row + 1, n_pre)
    if rule == "full":
        lengths[:] = max_row
    elif rule == "some empty":
        lengths[::2] = 0
    indices = np.full((n_pre, max_row), n_post, np.int32)
    weights = np.zeros((n_pre, max_row), np.float32)
    dense = np.zeros((n_pre, n_post), np.float64)
    for i, n in enumerate(lengths):
        indices[i, :n] = rng.choice(n_post, n, replace=False)
        weights[i, :n] = rng.normal(size=n)
        dense[i, indices[i, :n]] = weights[i, :n]
    return spars.Connectivity(indices, lengths, n_post), jnp.asarray(weights), dense


def make_spikes(pattern: str, batch: int, n_pre: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    if pattern == "none":
        return np.zeros((batch, n_pre), np.float32)
    if pattern == "all":
        return np.ones((batch, n_pre), np.float32)
    return ((rng.random((batch, n_pre)) < 0.3) * rng.uniform(0.5, 2, (batch, n_pre))).astype(
        np.float32
    )


PROPAGATION = [
    ("mixed", "random", 1),
    ("empty rows", "random", 40),  # more than one batch block
    ("empty rows", "none", 3),
    ("full rows", "all", 1),
    ("long rows", "random", 4),
]


@pytest.mark.parametrize("interpret", INTERPRET)
@pytest.mark.parametrize("case, pattern, batch", PROPAGATION)
def test_propagation_kernels_equal_twins_and_dense(case, pattern, batch, interpret):
    conn, w, dense = make_projection(case)
    s = make_spikes(pattern, batch, conn.n_pre)
    g = np.random.default_rng(2).normal(size=(batch, conn.n_post)).astype(np.float32)
    flat, g_j = jnp.asarray(s), jnp.asarray(g)
    ids, count = event_list(flat, CAPACITY)
    cols = spars.column_view(conn)
    ev = (ids, count, conn.row_length, conn.indices)
    expected = {
        "forward": s @ dense,
        "weight grad": np.where(np.asarray(conn.mask), (s.T @ g)[
            np.arange(conn.n_pre)[:, None], np.minimum(conn.indices, conn.n_post - 1)], 0),
        "spike grad": g @ dense.T,
    }
    results = {
        "forward": [
            KP.push_reference(*ev, w, flat, n_post=conn.n_post, capacity=CAPACITY),
            KP.push(*ev, w, flat, n_post=conn.n_post, capacity=CAPACITY, interpret=interpret),
            KP.pull_reference(cols.pre, cols.slot, cols.col_length, w, flat),
            KP.pull(cols.pre, cols.slot, cols.col_length, w, flat, interpret=interpret),
        ],
        "weight grad": [
            KP.weight_grad_reference(*ev, flat, g_j, capacity=CAPACITY),
            KP.weight_grad(*ev, flat, g_j, capacity=CAPACITY, interpret=interpret),
        ],
        "spike grad": [
            KP.spike_grad_reference(conn.row_length, conn.indices, w, g_j),
            KP.spike_grad(conn.row_length, conn.indices, w, g_j, interpret=interpret),
        ],
    }
    for name, outs in results.items():
        for out in outs:
            np.testing.assert_allclose(out, expected[name], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    "case, p_keep",
    [("mixed", 0.6), ("empty rows", 0.0), ("full rows", 1.0), ("full rows", 0.6),
     ("long rows", 0.6)],
)
@pytest.mark.parametrize("interpret", INTERPRET)
def test_compaction_kernel_equals_twin_and_rows(case, p_keep, interpret):
    conn, w, _ = make_projection(case)
    keep = np.random.default_rng(3).random(conn.indices.shape) < p_keep
    tag = jnp.arange(w.size, dtype=jnp.int32).reshape(w.shape) * conn.mask  # an int variable
    args = (jnp.asarray(keep), conn.row_length, conn.indices, w, tag)
    twin = KS.compact_rows_reference(*args, n_post=conn.n_post)
    kernel = KS.compact_rows(*args, n_post=conn.n_post, interpret=interpret)
    for a, b in zip(twin, kernel, strict=True):
        np.testing.assert_array_equal(a, b)
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    for i in range(conn.n_pre):
        kept = [k for k in range(length[i]) if keep[i, k]]
        n = len(kept)
        assert twin[0][i] == n
        np.testing.assert_array_equal(twin[1][i, :n], idx[i, kept])
        np.testing.assert_array_equal(twin[2][i, :n], np.asarray(w)[i, kept])
        np.testing.assert_array_equal(twin[3][i, :n], np.asarray(tag)[i, kept])
        assert np.all(twin[1][i, n:] == conn.n_post) and np.all(twin[2][i, n:] == 0)


@pytest.mark.parametrize("interpret", INTERPRET)
@pytest.mark.parametrize("case", list(CASES))
def test_column_build_kernel_equals_twin(case, interpret):
    conn, _, dense = make_projection(case)
    degree = (dense != 0).sum(0)
    max_col = int(degree.max()) + 3  # headroom: padding must be filled too
    static = {"n_post": conn.n_post, "max_col": max_col}
    twin = KC.build_reference(conn.row_length, conn.indices, **static)
    kernel = KC.build(conn.row_length, conn.indices, **static, interpret=interpret)
    for a, b in zip(twin, kernel, strict=True):
        np.testing.assert_array_equal(a, b)
    pre, slot, length = (np.asarray(a) for a in twin[:3])
    for j in range(conn.n_post):
        np.testing.assert_array_equal(pre[j, : length[j]], np.flatnonzero(dense[:, j]))
        assert np.all(np.asarray(conn.indices)[pre[j, : length[j]], slot[j, : length[j]]] == j)


@pytest.mark.parametrize("interpret", INTERPRET)
def test_column_build_kernel_overflow_counts_and_keeps_real_synapses(interpret):
    conn, _, dense = make_projection("mixed")
    degree = (dense != 0).sum(0)
    max_col = int(degree.max()) - 1
    static = {"n_post": conn.n_post, "max_col": max_col}
    twin = KC.build_reference(conn.row_length, conn.indices, **static)
    built = KC.build(conn.row_length, conn.indices, **static, interpret=interpret)
    pre, slot, length, overflow = built
    np.testing.assert_array_equal(length, twin[2])
    assert int(overflow) == int(twin[3]) == int(np.maximum(degree - max_col, 0).sum())
    for j in range(conn.n_post):
        real = np.asarray(pre[j, : length[j]])
        assert np.all(np.diff(real) > 0) and np.all(dense[real, j] != 0)


def _lowers_for_cuda(f, *args) -> str:
    return jax.jit(f).trace(*args).lower(lowering_platforms=("cuda",)).as_text()


def test_every_kernel_lowers_for_cuda():
    conn, w, _ = make_projection("mixed")
    flat = jnp.asarray(make_spikes("random", 3, conn.n_pre))
    g = jnp.ones((3, conn.n_post))
    ids, count = event_list(flat, CAPACITY)
    cols = spars.column_view(conn)
    ev = (ids, count, conn.row_length, conn.indices)
    keep = conn.mask
    n_post, max_col = conn.n_post, cols.pre.shape[1]
    calls = [
        (lambda *a: KP.push(*a, n_post=n_post, capacity=CAPACITY), (*ev, w, flat)),
        (KP.pull, (cols.pre, cols.slot, cols.col_length, w, flat)),
        (lambda *a: KP.weight_grad(*a, capacity=CAPACITY), (*ev, flat, g)),
        (KP.spike_grad, (conn.row_length, conn.indices, w, g)),
        (lambda *a: KS.compact_rows(*a, n_post=n_post), (keep, conn.row_length, conn.indices, w)),
        (lambda *a: KC.build(*a, n_post=n_post, max_col=max_col), (conn.row_length, conn.indices)),
    ]
    for f, args in calls:
        assert "triton" in _lowers_for_cuda(f, *args)


def test_public_functions_take_the_kernels_on_cuda_and_xla_on_cpu():
    conn, w, _ = make_projection("mixed")
    s = jnp.asarray(make_spikes("random", 2, conn.n_pre))
    cols = spars.column_view(conn)

    def step(w, s):
        loss = jnp.sum(spars.propagate(conn, w, s, columns=cols) ** 2)
        grads = jax.grad(lambda w, s: jnp.sum(spars.propagate(conn, w, s) ** 2), (0, 1))(w, s)
        pruned = spars.structure.remove(conn, jnp.abs(w) > 0.5, w)
        return loss, grads, pruned, spars.column_view(pruned[0], max_col=cols.pre.shape[1])

    cuda = _lowers_for_cuda(step, w, s)
    cpu = jax.jit(step).trace(w, s).lower(lowering_platforms=("cpu",)).as_text()
    assert cuda.count("triton") >= 6 and "triton" not in cpu
    with kernels.backend("xla"):  # traced anew: jit caches the traced program per function
        assert "triton" not in _lowers_for_cuda(lambda w, s: step(w, s), w, s)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_columns", [False, True])
def test_gradients_through_the_kernels_equal_the_reference(with_columns, mode):
    conn, w, _ = make_projection("empty rows")
    s = jnp.asarray(make_spikes("random", 3, conn.n_pre))
    cols = spars.column_view(conn) if with_columns else None

    def loss(propagate):
        return lambda w, s: jnp.sum(jnp.sin(propagate(conn, w, s)))

    fast = loss(lambda c, w, s: spars.propagate(c, w, s, columns=cols))
    expected = jax.grad(loss(spars.propagate_reference), (0, 1))(w, s)
    with kernels.backend(mode):
        got = jax.jit(jax.grad(fast, (0, 1)))(w, s)
        batched = jax.vmap(lambda w: spars.propagate(conn, w, s, columns=cols))(jnp.stack([w, -w]))
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched[1], -spars.propagate_reference(conn, w, s), atol=1e-5)


@pytest.mark.parametrize("mode", MODES + CPU_MODES)
def test_structure_and_columns_through_the_kernels_equal_the_reference(mode):
    conn, w, _ = make_projection("long rows")
    keep = jnp.abs(w) > 0.7
    with kernels.backend("xla"):
        expected = spars.structure.remove(conn, keep, {"w": w, "step": 3})
        twin = spars.column_view(expected[0])
    with kernels.backend(mode):
        got = spars.structure.remove(conn, keep, {"w": w, "step": 3})
        cols = spars.column_view(got[0])
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(cols), jax.tree.leaves(twin), strict=True):
        np.testing.assert_array_equal(a, b)


def test_backend_choice_is_checked_and_restored():
    assert kernels.get_backend() == "auto"
    with kernels.backend("xla"):
        assert kernels.get_backend() == "xla"
    assert kernels.get_backend() == "auto"
    with pytest.raises(ValueError, match="unknown kernel backend"):
        kernels.set_backend("triton")


def test_propagate_checks_the_column_view():
    conn, w, _ = make_projection("mixed")
    other, _, _ = make_projection("full rows")
    with pytest.raises(ValueError, match="columns"):
        spars.propagate(conn, w, jnp.ones(conn.n_pre), columns=spars.column_view(other))


@pytest.mark.parametrize("interpret", INTERPRET)
@pytest.mark.parametrize("case", ["full rows", "long rows"])  # long rows: two blocks
def test_append_kernel_equals_twin(case, interpret):
    conn, w, _ = make_projection(case)
    rng = np.random.default_rng(4)
    k = 6
    targets = rng.integers(-2, conn.n_post + 2, (conn.n_pre, k))  # out of range too
    targets[:, 3] = targets[:, 1]  # repeats within a row
    targets[:, 4] = np.asarray(conn.indices)[:, 0]  # already present (or padding)
    asked = rng.random((conn.n_pre, k)) < 0.8
    tag = jnp.asarray(rng.integers(1, 9, conn.indices.shape), jnp.int32) * conn.mask
    new = (jnp.asarray(rng.normal(size=(conn.n_pre, k)), jnp.float32), 7)
    args = (conn, jnp.asarray(targets), (w, tag), new)
    n_pre = conn.n_pre
    as_pairs = (  # the same candidates through add_pairs, an independent formulation
        conn, np.repeat(np.arange(n_pre), k), targets.reshape(-1), (w, tag),
        (new[0].reshape(-1), 7),
    )
    expected = spars.structure.add_pairs(*as_pairs, valid=asked.reshape(-1))
    with kernels.backend("xla"):
        twin = spars.structure.add(*args, valid=asked)
    with kernels.backend("interpret" if interpret else "auto"):
        got = spars.structure.add(*args, valid=asked)
    for a, b, c in zip(*map(jax.tree.leaves, (got, twin, expected)), strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    stats = expected[2]
    assert int(stats.rejected) > 0
    if case == "full rows":
        assert int(stats.overflow) > 0 and int(stats.added) == 0
    else:
        assert int(stats.added) > 0


@pytest.mark.parametrize("mode", MODES + CPU_MODES)
def test_structure_kernels_under_vmap_over_networks(mode):
    built = [spars.fixed_probability(jax.random.key(k), 30, 20, p=0.3, max_row=15) for k in (0, 1)]
    conns = jax.tree.map(lambda *a: jnp.stack(a), *built)
    w = jax.vmap(lambda c: jnp.where(c.mask, 1.0, 0.0))(conns)
    keep = jax.random.uniform(jax.random.key(3), w.shape) < 0.6
    targets = jax.random.randint(jax.random.key(4), (2, 30, 3), 0, 20)

    def rewire(conn, w, keep, targets):
        conn, w, _ = spars.structure.remove(conn, keep, w)
        conn, w, stats = spars.structure.add(conn, targets, w, 0.5)
        return conn, w, stats, spars.column_view(conn, max_col=30)

    with kernels.backend("xla"):
        expected = jax.vmap(rewire)(conns, w, keep, targets)
    with kernels.backend(mode):
        got = jax.jit(jax.vmap(rewire))(conns, w, keep, targets)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)


def test_append_kernel_lowers_for_cuda():
    conn, w, _ = make_projection("mixed")
    targets = jnp.zeros((conn.n_pre, 3), jnp.int32)
    text = _lowers_for_cuda(lambda t: spars.structure.add(conn, t, w)[:2], targets)
    assert "triton" in text


@pytest.mark.parametrize("case", ["long rows", "empty rows"])
def test_spike_grad_twin_by_row_blocks_equals_dense(case, monkeypatch):
    monkeypatch.setattr(KP, "ONE_SHOT_GATHER", 0)  # force the blocked path
    conn, w, dense = make_projection(case)
    g = np.random.default_rng(5).normal(size=(3, conn.n_post)).astype(np.float32)
    got = KP.spike_grad_reference(conn.row_length, conn.indices, w, jnp.asarray(g))
    np.testing.assert_allclose(got, g @ dense.T, rtol=1e-5, atol=1e-5)
