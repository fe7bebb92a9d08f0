"""Row compaction after removal and append after addition: Pallas kernels and XLA twins.

Shapes: ``keep bool[n_pre, max_row]``, ``row_length int32[n_pre]``,
``indices int32[n_pre, max_row]`` (padding ``n_post``) and any number of
per-synapse ``[n_pre, max_row]`` arrays (padding 0) that move with their
synapses. Both return ``(row_length, indices, *variables)`` after removing
every real slot whose ``keep`` is False, kept synapses in their order.
:func:`append_rows` appends per-row candidate targets.
"""

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from .._rows import compact
from . import _pallas as P

MAX_APPEND_CANDIDATES = 64  # per row; the kernel compares candidates pairwise in registers


def compact_rows_reference(keep, row_length, indices, *variables, n_post: int):
    """XLA twin of :func:`compact_rows`: a per-row prefix sum and one gather per array."""
    max_row = indices.shape[1]
    keep = keep & (jnp.arange(max_row, dtype=jnp.int32)[None, :] < row_length[:, None])
    slots = jnp.broadcast_to(jnp.arange(max_row, dtype=jnp.int32), keep.shape)
    length, source = compact(keep, max_row, slots, fills=max_row)

    def move(a, fill):
        return jnp.take_along_axis(a, source, axis=1, mode="fill", fill_value=fill)

    return (length, move(indices, n_post), *(move(v, 0) for v in variables))


def compact_rows(keep, row_length, indices, *variables, n_post: int, interpret: bool = False):
    """Pallas compaction, in place: one program per row, touching slots below ``row_length``.

    Each block of a row is read, then (after a block-wide barrier) its kept
    entries are written at ``kept-so-far + exclusive prefix``; slots freed at
    the end of the row are reset to padding. Slots past ``row_length`` are
    never read or written.
    """
    n_pre, max_row = indices.shape
    n_arrays = 1 + len(variables)
    block = P.slot_block(max_row)
    fills = (n_post,) + (0,) * len(variables)

    def kernel(keep_ref, len_ref, *refs):
        arrays = refs[n_arrays + 1 :]  # the in-place outputs (aliased inputs are not read)
        out_len = refs[n_arrays]
        i = pl.program_id(0)
        length = len_ref[i]

        def chunk(c, kept):
            slots = P.lanes(c * block, block)
            live = slots < length
            k = (P.load(keep_ref, (i, slots), live) != 0) & live
            step = k.astype(jnp.int32)
            dest = kept + jnp.cumsum(step) - step
            values = [P.load(a, (i, slots), live) for a in arrays]
            P.barrier(interpret=interpret)  # every lane has read before any lane writes
            for a, v in zip(arrays, values, strict=True):
                P.scatter(a, (i, dest), v, k, interpret=interpret)
            return kept + jnp.sum(step)

        kept = P.loop(P.blocks(length, block), chunk, jnp.int32(0))

        def tail(c, carry):
            slots = P.lanes((kept // block + c) * block, block)
            freed = (slots >= kept) & (slots < length)
            for a, fill in zip(arrays, fills, strict=True):
                P.store(a, (i, slots), jnp.full((block,), fill, a.dtype), freed)
            return carry

        P.loop(P.blocks(length, block) - kept // block, tail)
        out_len[i] = kept

    arrays = (indices, *variables)
    out = (jax.ShapeDtypeStruct(row_length.shape, jnp.int32),) + tuple(
        jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays
    )
    aliases = {2 + k: 1 + k for k in range(n_arrays)}
    return P.call(kernel, out, (n_pre,), keep.astype(jnp.int8), row_length, *arrays,
                  aliases=aliases, interpret=interpret, warps=P.num_warps(block))


def append_rows_reference(targets, asked, row_length, indices, *pairs, n_post: int):
    """XLA twin of :func:`append_rows`: the same per-row rules as whole-array compares.

    Work and memory ``O(n_pre * k * (max_row + k))``; no sorting.
    """
    n_pre, max_row = indices.shape
    k = targets.shape[1]
    variables, values = pairs[0::2], pairs[1::2]
    live = jnp.arange(max_row, dtype=jnp.int32)[None, :] < row_length[:, None]
    valid = asked & (targets >= 0) & (targets < n_post)
    same_slot = indices[:, None, :] == targets[:, :, None]
    present = jnp.any(same_slot & live[:, None, :], axis=2)
    before = jnp.arange(k)[None, :] < jnp.arange(k)[:, None]
    same = targets[:, None, :] == targets[:, :, None]
    new = valid & ~present & ~jnp.any(before[None] & valid[:, None, :] & same, axis=2)
    step = new.astype(jnp.int32)
    rank = jnp.cumsum(step, axis=1) - step
    fits = new & (rank < max_row - row_length[:, None])
    dest = jnp.where(fits, row_length[:, None] + rank, max_row)
    rows = jnp.broadcast_to(jnp.arange(n_pre, dtype=jnp.int32)[:, None], targets.shape)

    def write(a, v):
        return a.at[rows, dest].set(v.astype(a.dtype), mode="drop")

    moved = [write(a, v) for a, v in zip(variables, values, strict=True)]
    added = jnp.sum(fits, axis=1, dtype=jnp.int32)
    stats = (jnp.sum(added), jnp.sum(asked & ~new, dtype=jnp.int32),
             jnp.sum(new & ~fits, dtype=jnp.int32))
    return (row_length + added, write(indices, targets), *moved, *stats)


def append_rows(targets, asked, row_length, indices, *pairs, n_post: int,
                interpret: bool = False):
    """Pallas append: each row takes its new targets left to right, in place.

    The rules are those of :func:`spars.structure.add_pairs`: a target is
    rejected if out of range, already in the row or repeating an earlier
    valid target of the row; it overflows if the row is full.

    Args:
        targets: ``int32[n_pre, k]`` candidate targets per row.
        asked: ``bool[n_pre, k]`` which candidates to consider.
        row_length, indices: the rows.
        *pairs: for each per-synapse variable, ``(variable [n_pre, max_row],
            new values [n_pre, k])`` flattened: ``var0, new0, var1, new1, ...``.

    Returns:
        ``(row_length, indices, *variables, added, rejected, overflow)``, the
        last three int32 scalars. One program per row; it reads the row only
        up to ``row_length`` and writes only the new slots. With more than
        :data:`MAX_APPEND_CANDIDATES` candidates per row the twin runs instead.
    """
    if targets.shape[1] > MAX_APPEND_CANDIDATES:
        return append_rows_reference(targets, asked, row_length, indices, *pairs, n_post=n_post)
    n_pre, max_row = indices.shape
    k = targets.shape[1]
    variables, values = pairs[0::2], pairs[1::2]
    n_vars = len(variables)
    kk, block = P.pow2(k), P.slot_block(max_row)

    def kernel(t_ref, a_ref, len_ref, _, *refs):
        value_refs = refs[n_vars : 2 * n_vars]
        out_len, out_rej, out_ovf, idx_ref = refs[2 * n_vars : 2 * n_vars + 4]
        var_refs = refs[2 * n_vars + 4 :]
        i = pl.program_id(0)
        length = len_ref[i]
        cand = P.lanes(0, kk)
        real = cand < k
        t = P.load(t_ref, (i, cand), real, -1)
        asked_c = (P.load(a_ref, (i, cand), real) != 0) & real
        valid = asked_c & (t >= 0) & (t < n_post)

        def scan_row(c, present):
            slots = P.lanes(c * block, block)
            live = slots < length
            have = P.load(idx_ref, (i, slots), live, -1)
            hit = (have[None, :] == t[:, None]) & live[None, :]
            return present | (jnp.sum(hit.astype(jnp.int32), axis=1) > 0)

        present = P.loop(P.blocks(length, block), scan_row, jnp.zeros((kk,), bool))
        earlier = (cand[None, :] < cand[:, None]) & valid[None, :] & (t[None, :] == t[:, None])
        new = valid & ~present & (jnp.sum(earlier.astype(jnp.int32), axis=1) == 0)
        step = new.astype(jnp.int32)
        rank = jnp.cumsum(step) - step
        fits = new & (rank < max_row - length)
        dest = length + rank
        P.scatter(idx_ref, (i, dest), t, fits, interpret=interpret)
        for var_ref, value_ref in zip(var_refs, value_refs, strict=True):
            value = P.load(value_ref, (i, cand), real)
            P.scatter(var_ref, (i, dest), value, fits, interpret=interpret)
        out_len[i] = length + jnp.sum(fits.astype(jnp.int32))
        out_rej[i] = jnp.sum((asked_c & ~new).astype(jnp.int32))
        out_ovf[i] = jnp.sum((new & ~fits).astype(jnp.int32))

    per_row = jax.ShapeDtypeStruct((n_pre,), jnp.int32)
    out = (per_row, per_row, per_row, jax.ShapeDtypeStruct(indices.shape, jnp.int32)) + tuple(
        jax.ShapeDtypeStruct(v.shape, v.dtype) for v in variables
    )
    aliases = {3: 3, **{4 + n: 4 + n for n in range(n_vars)}}
    args = (targets, asked.astype(jnp.int8), row_length, indices, *variables, *values)
    length, rejected, overflow, *moved = P.call(
        kernel, out, (n_pre,), *args, aliases=aliases, interpret=interpret,
        warps=P.num_warps(max(kk, block)),
    )
    added = jnp.sum(length - row_length)
    return (length, *moved, added, jnp.sum(rejected), jnp.sum(overflow))
