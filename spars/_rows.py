"""Row-wise prefix-sum compaction, shared by builders and structural updates."""

import jax.numpy as jnp
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
