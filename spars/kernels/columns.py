"""The column-view build ("remap"): a Pallas kernel pair and its XLA twin.

Both take ``row_length int32[n_pre]`` and ``indices int32[n_pre, max_row]``
(padding ``n_post``) and return ``(pre, slot, col_length, overflow)``:
``int32[n_post, max_col]`` presynaptic neuron and row slot of each synapse
onto each postsynaptic neuron, by ascending presynaptic index (padding
``n_pre`` and ``max_row``), the entries per column and the number of synapses
that did not fit. When a column overflows, the XLA twin keeps its lowest
presynaptic indices and the kernels keep an arbitrary ``max_col`` of them.
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from . import _pallas as P

_INT32_MAX = 2**31 - 1


def build_reference(row_length, indices, *, n_post: int, max_col: int):
    """XLA twin of :func:`build`: one sort of all slots by (post, pre)."""
    n_pre, max_row = indices.shape
    if n_post == 0:  # no columns: nothing to list
        empty = jnp.zeros((0, max_col), jnp.int32)
        return empty, empty, jnp.zeros((0,), jnp.int32), jnp.zeros((), jnp.int32)
    indices = jnp.where(jnp.arange(max_row)[None, :] < row_length[:, None], indices, n_post)
    degree = jnp.zeros((n_post + 1,), jnp.int32).at[indices.reshape(-1)].add(1)[:n_post]
    post, pre, slot = _sorted_by_column(indices, n_post)
    starts = jnp.cumsum(degree) - degree
    position = jnp.arange(post.shape[0], dtype=jnp.int32)
    rank = position - starts.at[post].get(mode="fill", fill_value=0)
    row = jnp.where(post < n_post, post, n_post)
    shape = (n_post, max_col)
    return (
        jnp.full(shape, n_pre, jnp.int32).at[row, rank].set(pre, mode="drop"),
        jnp.full(shape, max_row, jnp.int32).at[row, rank].set(slot, mode="drop"),
        jnp.minimum(degree, max_col),
        jnp.sum(jnp.maximum(degree - max_col, 0)),
    )


def _sorted_by_column(indices, n_post: int):
    """Flat ``(post, pre, slot)`` of all slots sorted by post then pre; padding last."""
    n_pre, max_row = indices.shape
    post = indices.reshape(-1)
    flat = jnp.arange(post.shape[0], dtype=jnp.int32)
    if post.shape[0] == 0:
        return post, flat, flat
    if n_pre * (n_post + 1) <= _INT32_MAX:
        key = lax.sort(post * n_pre + flat // max(max_row, 1))
        post, pre = key // max(n_pre, 1), key % max(n_pre, 1)
        rows = indices.at[pre].get(mode="fill", fill_value=-1)
        slot = jnp.argmax(rows == post[:, None], axis=1).astype(jnp.int32)
        return post, pre, slot
    post, flat = lax.sort((post, flat), num_keys=1, is_stable=True)
    return post, flat // max_row, flat % max_row


def build(row_length, indices, *, n_post: int, max_col: int, interpret: bool = False):
    """Pallas build: a row-parallel scatter into columns, then a column-parallel sort.

    Pass 1, one program per row up to ``row_length``: an atomic counter per
    column hands each synapse a place in its column (unordered). Pass 2, one
    program per column: each entry's rank is the number of entries with a
    smaller presynaptic index, and it is written there; the column's padding
    is filled.
    """
    n_pre, max_row = indices.shape
    pre_u, slot_u, degree = _scatter(row_length, indices, n_post, max_col, interpret)
    col_length = jnp.minimum(degree, max_col)
    pre, slot = _sort_columns(pre_u, slot_u, col_length, n_pre, max_row, interpret)
    return pre, slot, col_length, jnp.sum(jnp.maximum(degree - max_col, 0))


def _scatter(row_length, indices, n_post, max_col, interpret):
    n_pre, max_row = indices.shape
    block = P.slot_block(max_row)

    def kernel(len_ref, idx_ref, _, pre_ref, slot_ref, count_ref):
        i = pl.program_id(0)
        length = len_ref[i]

        def chunk(c, carry):
            slots = P.lanes(c * block, block)
            live = slots < length
            target = P.load(idx_ref, (i, slots), live)
            place = P.atomic_add(count_ref, (target,), jnp.ones((block,), jnp.int32), live,
                                 interpret=interpret)
            fits = live & (place < max_col)
            where = (target, place)
            P.scatter(pre_ref, where, jnp.full((block,), i, jnp.int32), fits, interpret=interpret)
            P.scatter(slot_ref, where, slots, fits, interpret=interpret)
            return carry

        P.loop(P.blocks(length, block), chunk)

    columns = jax.ShapeDtypeStruct((n_post, max_col), jnp.int32)
    out = (columns, columns, jax.ShapeDtypeStruct((n_post,), jnp.int32))
    zero = P.zeros((n_post,), jnp.int32)
    return P.call(kernel, out, (n_pre,), row_length, indices, zero, aliases={2: 2},
                  interpret=interpret, warps=P.num_warps(block))


def _sort_columns(pre_u, slot_u, col_length, n_pre, max_row, interpret):
    n_post, max_col = pre_u.shape
    block = P.pow2(max_col, 16, 64)  # the rank compare is a block x block tile

    def kernel(pre_u_ref, slot_u_ref, len_ref, pre_ref, slot_ref):
        j = pl.program_id(0)
        length = len_ref[j]

        def place(a, carry):
            mine = P.lanes(a * block, block)
            live = mine < length
            pre_a = P.load(pre_u_ref, (j, mine), live)

            def count(b, rank):
                theirs = P.lanes(b * block, block)
                pre_b = P.load(pre_u_ref, (j, theirs), theirs < length, _INT32_MAX)
                return rank + jnp.sum((pre_b[None, :] < pre_a[:, None]).astype(jnp.int32), 1)

            rank = P.loop(P.blocks(length, block), count, jnp.zeros((block,), jnp.int32))
            slot_a = P.load(slot_u_ref, (j, mine), live)
            P.scatter(pre_ref, (j, rank), pre_a, live, interpret=interpret)
            P.scatter(slot_ref, (j, rank), slot_a, live, interpret=interpret)
            return carry

        P.loop(P.blocks(length, block), place)

        def pad(c, carry):
            cols = P.lanes(c * block, block)
            spare = (cols >= length) & (cols < max_col)
            P.store(pre_ref, (j, cols), jnp.full((block,), n_pre, jnp.int32), spare)
            P.store(slot_ref, (j, cols), jnp.full((block,), max_row, jnp.int32), spare)
            return carry

        first = length // block
        P.loop(P.blocks(max_col, block) - first, lambda c, x: pad(first + c, x))

    columns = jax.ShapeDtypeStruct((n_post, max_col), jnp.int32)
    return P.call(kernel, (columns, columns), (n_post,), pre_u, slot_u, col_length,
                  interpret=interpret, warps=P.num_warps(block))
