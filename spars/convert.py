"""Conversions between padded rows and dense or COO (pre, post) forms."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._custom_types import SynapseVar
from ._rows import compact
from .connectivity import Connectivity, capacity


def from_dense(
    weights: Float[Array, "pre post"],
    *,
    headroom: float = 1.0,
    max_row: int | None = None,
) -> tuple[Connectivity, SynapseVar]:
    """Padded rows holding the non-zero entries of a dense matrix.

    Args:
        weights: ``[n_pre, n_post]``; every non-zero entry is a synapse.
        headroom: row capacity factor over the longest row.
        max_row: explicit row capacity; required under ``jax.jit``.

    Returns:
        ``(conn, w)`` with ``w`` the ``[n_pre, max_row]`` weights, targets in
        ascending order within each row.
    """
    weights = jnp.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(f"weights must be 2-D [n_pre, n_post], got {weights.shape}")
    n_pre, n_post = weights.shape
    nonzero = weights != 0
    if max_row is None:
        if isinstance(weights, jax.core.Tracer):
            raise ValueError("from_dense under jax.jit needs an explicit max_row")
        needed = int(jnp.max(jnp.sum(nonzero, axis=1), initial=0))
        max_row = capacity(needed, headroom)
    targets = jnp.broadcast_to(jnp.arange(n_post, dtype=jnp.int32), weights.shape)
    row_length, indices, w = compact(nonzero, max_row, targets, weights, fills=(n_post, 0))
    row_length = _error_if_overflow(row_length, max_row)
    return Connectivity(indices, row_length, n_post), w


def _error_if_overflow(row_length: Array, max_row: int) -> Array:
    return eqx.error_if(
        row_length,
        jnp.any(row_length > max_row),
        f"a row has more synapses than max_row={max_row}; raise max_row",
    )


def to_dense(conn: Connectivity, weights: SynapseVar) -> Float[Array, "pre post"]:
    """The dense ``[n_pre, n_post]`` matrix of a padded-row projection."""
    if weights.shape != conn.indices.shape:
        raise ValueError(
            f"weights shape {weights.shape} != connectivity shape {conn.indices.shape}"
        )
    rows = jnp.arange(conn.n_pre)[:, None]
    dense = jnp.zeros(conn.shape, weights.dtype)
    return dense.at[rows, conn.indices].add(weights, mode="drop")


def from_coo(
    pre,
    post,
    shape: tuple[int, int],
    weights=None,
    *,
    headroom: float = 1.0,
    max_row: int | None = None,
    sum_duplicates: bool = False,
) -> tuple[Connectivity, SynapseVar]:
    """Padded rows from a list of (pre, post) pairs.

    Duplicate policy: a repeated (pre, post) pair is an error naming the pair,
    unless ``sum_duplicates`` is True, when their weights are added into one
    synapse. Targets are sorted within each row. Runs eagerly (NumPy).

    Args:
        pre, post: integer sequences of equal length.
        shape: ``(n_pre, n_post)``.
        weights: per-pair values; ones if None.
        headroom, max_row: row capacity, as in :func:`spars.capacity`.
        sum_duplicates: merge repeated pairs by adding their weights.

    Returns:
        ``(conn, w)`` with ``w`` the ``[n_pre, max_row]`` weights.
    """
    n_pre, n_post = shape
    pre, post = np.asarray(pre).ravel(), np.asarray(post).ravel()
    w = np.ones(pre.shape, np.float32) if weights is None else np.asarray(weights).ravel()
    if not (pre.shape == post.shape == w.shape):
        raise ValueError(
            f"pre, post and weights must have equal length, got {pre.shape[0]}, "
            f"{post.shape[0]} and {w.shape[0]}"
        )
    _check_range(pre, n_pre, "pre")
    _check_range(post, n_post, "post")
    order = np.lexsort((post, pre))
    pre, post, w = pre[order], post[order], w[order]
    pre, post, w = _merge_duplicates(pre, post, w, sum_duplicates)
    counts = np.bincount(pre, minlength=n_pre)
    width = capacity(int(counts.max(initial=0)), headroom, max_row)
    slot = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
    indices = np.full((n_pre, width), n_post, np.int32)
    values = np.zeros((n_pre, width), w.dtype)
    indices[pre, slot] = post
    values[pre, slot] = w
    return Connectivity(indices, counts, n_post), jnp.asarray(values)


def _check_range(x: np.ndarray, n: int, name: str) -> None:
    bad = np.flatnonzero((x < 0) | (x >= n))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}]={x[bad[0]]} is outside [0, {n})")


def _merge_duplicates(pre, post, w, sum_duplicates: bool):
    repeat = np.zeros(pre.shape, bool)
    repeat[1:] = (pre[1:] == pre[:-1]) & (post[1:] == post[:-1])
    if not repeat.any():
        return pre, post, w
    if not sum_duplicates:
        k = np.flatnonzero(repeat)[0]
        raise ValueError(
            f"pair (pre={pre[k]}, post={post[k]}) appears more than once; "
            "pass sum_duplicates=True to merge repeats by adding their weights"
        )
    group = np.cumsum(~repeat) - 1
    merged = np.zeros(group[-1] + 1, w.dtype)
    np.add.at(merged, group, w)
    first = ~repeat
    return pre[first], post[first], merged


def to_coo(conn: Connectivity, weights: SynapseVar | None = None):
    """``(pre, post, w)`` NumPy arrays of the real synapses, row-major.

    ``w`` is None when ``weights`` is None.
    """
    mask = np.asarray(conn.mask)
    pre = np.broadcast_to(np.arange(conn.n_pre)[:, None], mask.shape)[mask]
    post = np.asarray(conn.indices)[mask]
    w = None if weights is None else np.asarray(weights)[mask]
    return pre, post, w
