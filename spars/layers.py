"""Padded rows from lists of (pre, post) pairs, with repeated pairs (multapses) in layers.

A row holds each target at most once (the connectivity invariant), so a
projection with multapses, as NEST's ``fixed_indegree`` and
``fixed_total_number`` rules draw them, comes as *layers*: a tuple of
connectivities of the same shape, layer ``k`` holding the ``k``-th synapse of
every pair that has more than ``k``. Each layer is an ordinary projection
(with its own weights and delays); together they are the multigraph.
"""

import numpy as np

from .connectivity import Connectivity, capacity


def rows_from_pairs(pre, post, n_pre: int, n_post: int, *, headroom: float = 1.0,
                    max_row: int | None = None) -> Connectivity:  # fmt: skip
    """Padded rows, targets ascending, from distinct (pre, post) pairs (NumPy, eager).

    Args:
        pre, post: integer arrays of equal length, in range, no pair repeated.
        n_pre, n_post: population sizes.
        headroom, max_row: row capacity, as in :func:`spars.capacity`.

    Returns:
        The connectivity.
    """
    pre, post = _sorted(pre, post, n_post)
    if pre.size and np.any((pre[1:] == pre[:-1]) & (post[1:] == post[:-1])):
        raise ValueError("rows_from_pairs got a repeated (pre, post) pair; use layers_from_pairs")
    return _rows(pre, post, n_pre, n_post, headroom, max_row)


def layers_from_pairs(pre, post, n_pre: int, n_post: int, *, headroom: float = 1.0,
                      max_row: int | None = None) -> tuple[Connectivity, ...]:  # fmt: skip
    """Layers of padded rows from (pre, post) pairs that may repeat (module docstring).

    Returns:
        One connectivity per multiplicity: layer ``k`` holds each pair's
        ``k``-th synapse; one layer if no pair repeats (none for no pairs:
        an empty projection of capacity 0 is returned as one layer).
    """
    pre, post = _sorted(pre, post, n_post)
    rank = _rank_within_runs(pre, post)
    top = int(rank.max(initial=0))
    return tuple(
        _rows(pre[rank == k], post[rank == k], n_pre, n_post, headroom, max_row)
        for k in range(top + 1)
    )


def _sorted(pre, post, n_post: int):
    """Pairs ordered by pre, then post (one stable sort of a 64-bit key)."""
    pre, post = np.asarray(pre).ravel(), np.asarray(post).ravel()
    if pre.shape != post.shape:
        raise ValueError(f"pre and post must have equal length, got {pre.size} and {post.size}")
    key = pre.astype(np.int64) * max(n_post, 1) + post
    order = np.argsort(key, kind="stable")
    return pre[order].astype(np.int32), post[order].astype(np.int32)


def _rank_within_runs(pre, post) -> np.ndarray:
    """For sorted pairs: 0 for a pair's first occurrence, 1 for its second, ..."""
    if pre.size == 0:
        return np.zeros(0, np.int64)
    first = np.ones(pre.size, bool)
    first[1:] = (pre[1:] != pre[:-1]) | (post[1:] != post[:-1])
    position = np.arange(pre.size)
    return position - np.maximum.accumulate(np.where(first, position, 0))


def _rows(pre, post, n_pre: int, n_post: int, headroom: float, max_row: int | None):
    """Rows from distinct pairs sorted by (pre, post)."""
    length = np.bincount(pre, minlength=n_pre).astype(np.int32)
    width = capacity(int(length.max(initial=0)), headroom, max_row)
    if max_row is None:
        width = min(width, n_post)
    indices = np.full((n_pre, width), n_post, np.int32)
    start = np.cumsum(length) - length
    indices[pre, np.arange(pre.size) - start[pre]] = post
    return Connectivity(indices, length, n_post)
