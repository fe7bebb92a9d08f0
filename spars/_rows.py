"""Row-wise compaction and grouping helpers, shared by builders and structural updates."""

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool


def compact(keep: Bool[Array, "rows cols"], width: int, *arrays: Array, fills=0):
    """Moves the kept entries of each row to its front, in order.

    A per-row prefix sum over ``keep`` gives every kept entry its new slot;
    entries that are dropped, or whose slot is ``>= width``, are not written.

    Args:
        keep: ``bool[rows, cols]`` which entries survive.
        width: number of output columns.
        *arrays: ``[rows, cols]`` arrays moved together with ``keep``.
        fills: the value of unwritten slots, one for all arrays or one each.

    Returns:
        ``(row_length, *compacted)``: ``int32[rows]`` kept count (not clipped
        to ``width``) and each array as ``[rows, width]``.
    """
    rows, cols = keep.shape
    if not isinstance(fills, tuple | list):
        fills = (fills,) * len(arrays)
    slot = jnp.cumsum(keep, axis=1, dtype=jnp.int32) - 1
    slot = jnp.where(keep, slot, width)
    row = jnp.broadcast_to(jnp.arange(rows, dtype=jnp.int32)[:, None], (rows, cols))
    out = [
        jnp.full((rows, width), fill, a.dtype).at[row, slot].set(a, mode="drop")
        for a, fill in zip(arrays, fills, strict=True)
    ]
    return (jnp.sum(keep, axis=1, dtype=jnp.int32), *out)


def repeats(pre, post):
    """``bool[k]``: the pair also occurs at an earlier position."""
    order = jnp.arange(pre.shape[0], dtype=jnp.int32)
    pre_s, post_s, order_s = lax.sort((pre, post, order), num_keys=2, is_stable=True)
    same = (pre_s[1:] == pre_s[:-1]) & (post_s[1:] == post_s[:-1])
    repeat_s = jnp.concatenate([jnp.zeros((1,), bool), same])
    return jnp.zeros(pre.shape, bool).at[order_s].set(repeat_s)


def rank_in_group(group, flags):
    """``int32[k]``: how many earlier positions of the same ``group`` are flagged."""
    k = group.shape[0]
    order = jnp.arange(k, dtype=jnp.int32)
    group_s, order_s = lax.sort((group, order), num_keys=1, is_stable=True)
    flags_s = flags[order_s].astype(jnp.int32)
    before = jnp.cumsum(flags_s) - flags_s
    starts = jnp.concatenate([jnp.ones((1,), bool), group_s[1:] != group_s[:-1]])
    first = lax.cummax(jnp.where(starts, order, 0))
    return jnp.zeros((k,), jnp.int32).at[order_s].set(before - before[first])
