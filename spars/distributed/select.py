"""Global selections over row-sharded arrays, with one device's tie-breaking.

:func:`smallest` picks the ``count`` smallest entries of all devices' rows
together (what :func:`spars.rules` do on one device with a sort) by a radix
select: 8 bits at a time, each round a 256-bin histogram of the candidates
summed over the devices (``psum`` of 256 ints), so 4 passes over the local
entries for float32 and nothing gathered. Ties at the threshold go to the
lower global flat index, as a stable sort on one device gives them.
"""

import jax.numpy as jnp
from jax import lax

from .._prefix import count_prefix

_UNSIGNED = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}


def order_key(x):
    """Unsigned integers in the order of the floats ``x`` (-inf < ... < -0 < +0 < ... < inf)."""
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"scores must be floats, got {x.dtype}")
    unsigned = _UNSIGNED[x.dtype.itemsize]
    bits = lax.bitcast_convert_type(x, unsigned)
    sign = jnp.asarray(1, unsigned) << (8 * x.dtype.itemsize - 1)
    return jnp.where(bits & sign, ~bits, bits | sign)


def kth_key(key, mask, count, axis: str):
    """``(threshold, below)``: the ``count``-th smallest ``key`` where ``mask`` over all
    devices (1-based), and how many such entries lie below it."""
    bits = 8 * key.dtype.itemsize
    flat_key, flat_mask = key.reshape(-1), mask.reshape(-1).astype(jnp.int32)

    def round_(r, carry):
        prefix, need, below = carry
        shift = (bits - 8 - 8 * r).astype(key.dtype)
        higher = shift + 8  # shifting by the full width gives 0: the first round matches all
        match = flat_mask * ((flat_key >> higher) == (prefix >> higher))
        digit = ((flat_key >> shift) & 0xFF).astype(jnp.int32)
        hist = lax.psum(jnp.zeros((256,), jnp.int32).at[digit].add(match), axis)
        cum = jnp.cumsum(hist)
        d = jnp.minimum(jnp.searchsorted(cum, need, side="left"), 255)
        skipped = cum[d] - hist[d]
        return prefix | (d.astype(key.dtype) << shift), need - skipped, below + skipped

    start = (jnp.zeros((), key.dtype), jnp.asarray(count, jnp.int32), jnp.zeros((), jnp.int32))
    prefix, _, below = lax.fori_loop(0, bits // 8, round_, start)
    return prefix, below


def smallest(score, mask, count, axis: str):
    """Per device: ``bool`` mask of the ``count`` smallest ``score`` entries where ``mask``,
    over every device's rows (device order = row order; ties to the lower flat index).

    Equal to ``spars.rules._common.smallest`` on the rows of all devices
    stacked. ``count`` may be traced (it must be the same on every device).
    """
    key = order_key(score)
    n_real = lax.psum(jnp.sum(mask, dtype=jnp.int32), axis)
    threshold, below = kth_key(key, mask, count, axis)
    ties = mask & (key == threshold)
    n_ties = jnp.sum(ties, dtype=jnp.int32)
    earlier = lax.all_gather(n_ties, axis)
    before = jnp.sum(jnp.where(jnp.arange(earlier.shape[0]) < lax.axis_index(axis), earlier, 0))
    quota = count - below - before
    flat = ties.reshape(-1)
    tie_rank = (count_prefix(flat) - flat).reshape(ties.shape) if flat.size else ties
    chosen = mask & ((key < threshold) | (ties & (tie_rank < quota)))
    chosen = jnp.where(count >= n_real, mask, chosen)
    return jnp.where(count <= 0, False, chosen)


def top_k(values, ids, k: int, axis: str):
    """The ``k`` largest ``values`` over all devices and their ``ids``, best first.

    Each device gives its own top entries (``values``, ``ids`` sorted best
    first, ties by ascending global position, as ``lax.top_k`` returns
    them); equal values keep device order, so the result is ``lax.top_k`` of
    all devices' entries in global order.

    Returns:
        ``(values [k], ids [k])``, the same on every device.
    """
    values = lax.all_gather(values, axis, tiled=True)
    ids = lax.all_gather(ids, axis, tiled=True)
    best, position = lax.top_k(values, min(k, values.shape[0]))
    return best, ids[position]
