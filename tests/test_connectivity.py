import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spars

from .strategies import sparse_dense


def _rows(conn):
    """{pre: [post, ...]} of the real synapses."""
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    return {i: list(idx[i, : length[i]]) for i in range(conn.n_pre)}


@given(sparse_dense(), st.sampled_from([1.0, 1.5, 3.0]))
def test_from_dense_round_trip_and_invariants(w, headroom):
    conn, values = spars.from_dense(w, headroom=headroom)
    spars.validate(conn, values)
    np.testing.assert_array_equal(spars.to_dense(conn, values), w)
    longest = int((w != 0).sum(1).max(initial=0))
    assert conn.max_row == int(np.ceil(longest * headroom - 1e-9))
    np.testing.assert_array_equal(conn.row_length, (w != 0).sum(1))
    for i, row in _rows(conn).items():
        assert row == list(np.flatnonzero(w[i]))


@given(sparse_dense())
def test_coo_round_trip(w):
    conn, values = spars.from_dense(w, headroom=1.2)
    pre, post, vals = spars.to_coo(conn, values)
    conn2, values2 = spars.from_coo(pre, post, w.shape, vals, max_row=conn.max_row)
    np.testing.assert_array_equal(conn2.indices, conn.indices)
    np.testing.assert_array_equal(values2, values)


def test_from_coo_duplicates_policy():
    pre, post, w = [0, 1, 0, 0], [2, 0, 2, 1], [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match=r"pair \(pre=0, post=2\) appears more than once"):
        spars.from_coo(pre, post, (2, 3), w)
    conn, values = spars.from_coo(pre, post, (2, 3), w, sum_duplicates=True)
    dense = np.asarray(spars.to_dense(conn, values))
    np.testing.assert_array_equal(dense, [[0, 4, 4], [2, 0, 0]])


def test_from_coo_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"post\[1\]=3 is outside \[0, 3\)"):
        spars.from_coo([0, 1], [0, 3], (2, 3))
    with pytest.raises(ValueError, match="equal length"):
        spars.from_coo([0, 1], [0], (2, 3))


def test_explicit_max_row_too_small_is_an_error():
    w = np.ones((2, 5), np.float32)
    with pytest.raises(ValueError, match="max_row=3 is smaller than the longest row"):
        spars.from_coo(*np.nonzero(w), (2, 5), max_row=3)
    with pytest.raises(ValueError, match="headroom must be >= 1"):
        spars.from_dense(w, headroom=0.5)


def test_from_dense_under_jit_needs_and_checks_max_row():
    w = jnp.asarray(np.eye(4, dtype=np.float32) + np.eye(4, k=1, dtype=np.float32))
    conn, values = jax.jit(lambda x: spars.from_dense(x, max_row=3))(w)
    np.testing.assert_array_equal(spars.to_dense(conn, values), w)
    with pytest.raises(ValueError, match="explicit max_row"):
        jax.jit(spars.from_dense)(w)
    with pytest.raises(Exception, match="more synapses than max_row=1"):
        jax.jit(lambda x: spars.from_dense(x, max_row=1))(w)


def test_connectivity_shape_checks():
    with pytest.raises(ValueError, match="indices must be 2-D"):
        spars.Connectivity(jnp.zeros((3,), int), jnp.zeros((3,), int), 4)
    with pytest.raises(ValueError, match="row_length must have shape"):
        spars.Connectivity(jnp.zeros((3, 2), int), jnp.zeros((2,), int), 4)
    with pytest.raises(ValueError, match="must be integers, got dtype float32"):
        spars.Connectivity(jnp.zeros((3, 2)), jnp.zeros((3,), int), 4)
    conn = spars.empty(3, 4, 2)
    assert conn.shape == (3, 4) and conn.max_row == 2 and int(conn.n_synapses) == 0
    spars.validate(conn, jnp.zeros((3, 2)))


def _valid():
    """Rows [1, 3], [0], [] of a 3 x 4 projection with capacity 3."""
    idx = np.array([[1, 3, 4], [0, 4, 4], [4, 4, 4]], np.int32)
    w = np.array([[0.5, -1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    return idx, np.array([2, 1, 0], np.int32), w


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda i, n, w: n.__setitem__(2, 4), r"row 2: row_length=4 is outside \[0, max_row=3\]"),
        (lambda i, n, w: n.__setitem__(1, -1), r"row 1: row_length=-1"),
        (lambda i, n, w: i.__setitem__((0, 1), 7), r"row 0 slot 1: index 7 is outside"),
        (lambda i, n, w: i.__setitem__((1, 0), -2), r"row 1 slot 0: index -2 is outside"),
        (lambda i, n, w: i.__setitem__((0, 1), 1), r"row 0 slot 1: target 1 appears twice"),
        (lambda i, n, w: i.__setitem__((1, 2), 2), r"row 1 slot 2: padding slot .* holds index 2"),
        (lambda i, n, w: w.__setitem__((2, 0), 1.0), r"variable 0, row 2 slot 0: padding"),
        (lambda i, n, w: w.__setitem__((0, 1), np.nan), r"row 0 slot 1: non-finite value nan"),
    ],
)
def test_validate_names_the_offending_slot(edit, message):
    idx, length, w = _valid()
    spars.validate(spars.Connectivity(idx, length, 4), w)
    edit(idx, length, w)
    with pytest.raises(ValueError, match=message):
        spars.validate(spars.Connectivity(idx, length, 4), w)


def test_validate_checks_variable_shapes():
    idx, length, w = _valid()
    with pytest.raises(ValueError, match=r"does not match .*\(3, 3\)"):
        spars.validate(spars.Connectivity(idx, length, 4), w[:, :2])


@pytest.mark.parametrize("field", ["indices", "row_length"])
def test_validate_under_jit_raises_at_run_time_whichever_field_is_used(field):
    idx, length, w = _valid()

    @jax.jit
    def checked(indices, weights):
        conn = spars.validate(spars.Connectivity(indices, length, 4), weights)
        return getattr(conn, field).sum()

    checked(idx, w)
    idx[0, 1] = 1
    with pytest.raises(Exception, match="duplicate target in a row"):
        checked(idx, w)


def test_mask_and_padding_index():
    idx, length, _ = _valid()
    conn = spars.Connectivity(idx, length, 4)
    np.testing.assert_array_equal(conn.mask, [[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert conn.padding_index == 4
