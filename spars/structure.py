"""Structural primitives: remove synapses, add synapses, trim or cap row capacity.

Every rewiring rule is built from two jit-compiled phases with fixed shapes:
:func:`remove` (a keep mask, rows compacted by a per-row prefix sum) and
:func:`add_pairs` / :func:`add` (new targets appended at ``row_length``).

Per-synapse variables are any PyTree. Its leaves shaped ``[n_pre, max_row]``
move with their synapses and are zero on padding and (unless given a value)
on new synapses; other leaves (an optimizer's step count, dense weights of
another layer) are returned unchanged.
"""

from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

from ._checks import fraction, integer, is_concrete
from ._custom_types import SlotMask
from ._rows import compact, rank_in_group, repeats
from .connectivity import Connectivity, capacity
from .kernels import structure as KS
from .kernels._backend import dispatch
from .kernels.cpu import structure as KCS


class AddStats(NamedTuple):
    """Outcome of an addition (int32 scalars).

    Attributes:
        added: synapses written.
        rejected: candidates out of range, already present in their row, or
            repeating an earlier candidate.
        overflow: new, valid candidates that found their row full.
    """

    added: Int[Array, ""]
    rejected: Int[Array, ""]
    overflow: Int[Array, ""]


class RewireStats(NamedTuple):
    """What a rewiring rule did (int32 scalars).

    Attributes:
        removed: synapses removed.
        added: synapses created.
        failed: synapses the rule wanted to create but could not place.
    """

    removed: Int[Array, ""]
    added: Int[Array, ""]
    failed: Int[Array, ""]


def is_synaptic(leaf, shape: tuple[int, int]) -> bool:
    """Whether ``leaf`` is a per-synapse variable: exactly ``shape = (n_pre, max_row)``."""
    return jnp.shape(leaf) == shape


def relocate(variables, source: Int[Array, "pre width"], max_row: int | None = None):
    """Moves per-synapse variables to their new slots.

    Args:
        variables: any PyTree; leaves shaped ``[n_pre, max_row]`` are moved.
        source: ``int32[n_pre, width]`` old slot of each new slot, or
            ``max_row`` for slots that become padding (zero).
        max_row: the old row capacity; default ``width``.

    Returns:
        ``variables`` with every per-synapse leaf gathered along its rows,
        now ``[n_pre, width]``.
    """
    shape = (source.shape[0], source.shape[1] if max_row is None else max_row)

    def move(leaf):
        if not is_synaptic(leaf, shape):
            return leaf
        return jnp.take_along_axis(jnp.asarray(leaf), source, axis=1, mode="fill", fill_value=0)

    return jax.tree.map(move, variables)


def remove(conn: Connectivity, keep: SlotMask, variables=None):
    """Removes every real synapse whose ``keep`` is False and compacts the rows.

    Kept synapses stay in their order; each per-synapse variable moves with
    its synapse and freed slots become padding (sentinel index, zero).

    Args:
        conn: the connectivity.
        keep: ``bool[n_pre, max_row]``; its value on padding slots is ignored.
        variables: per-synapse variables (see module docstring).

    Returns:
        ``(conn, variables, n_removed)``, ``n_removed`` an int32 scalar.
    """
    if jnp.shape(keep) != conn.indices.shape:
        raise ValueError(f"keep has shape {jnp.shape(keep)}, expected {conn.indices.shape}")
    synaptic, _, rebuild = _split_synaptic(variables, conn.indices.shape)
    row_length, indices, *moved = dispatch(
        partial(KS.compact_rows, n_post=conn.n_post),
        partial(KS.compact_rows_reference, n_post=conn.n_post),
        jnp.asarray(keep, bool), conn.row_length, conn.indices, *synaptic,
        twin_only=conn.indices.size == 0,
        cpu=partial(KCS.compact_rows, n_post=conn.n_post) if KCS.supported(*synaptic) else None,
    )
    removed = (conn.n_synapses - jnp.sum(row_length)).astype(jnp.int32)
    return Connectivity(indices, row_length, conn.n_post), rebuild(moved), removed


def remove_listed(
    conn: Connectivity,
    pre: Int[Array, " k"],
    slot: Int[Array, " k"],
    variables=None,
    *,
    valid: Bool[Array, " k"] | None = None,
):
    """Removes the synapses in slots ``(pre[j], slot[j])``, compacting only their rows.

    Equal to :func:`remove` with ``keep`` False at the listed slots, but the
    work is ``O(k * max_row)``: for a few removals in a large projection
    (topographic elimination) it skips the pass over every row. Listed
    padding slots and pairs with ``valid`` False are ignored; a slot may be
    listed twice.

    Args:
        conn: the connectivity.
        pre, slot: ``int[k]`` the synapses to remove.
        variables: per-synapse variables (see module docstring).
        valid: ``bool[k]`` which entries to act on (default all).

    Returns:
        ``(conn, variables, n_removed)``, ``n_removed`` an int32 scalar.
    """
    pre = jnp.asarray(integer("pre", pre), jnp.int32)
    slot = jnp.asarray(integer("slot", slot), jnp.int32)
    if pre.ndim != 1 or pre.shape != slot.shape:
        raise ValueError(f"pre and slot must be 1-D of equal shape, got {pre.shape}, {slot.shape}")
    if conn.n_pre == 0 or conn.max_row == 0 or pre.shape[0] == 0:
        return conn, variables, jnp.zeros((), jnp.int32)
    valid = jnp.ones(pre.shape, bool) if valid is None else jnp.asarray(valid, bool)
    listed = valid & (pre >= 0) & (pre < conn.n_pre) & (slot >= 0) & (slot < conn.max_row)
    row = jnp.where(listed, pre, conn.n_pre)  # out-of-range entries (slot -1 too) are ignored
    drop = jnp.zeros(conn.indices.shape, bool).at[row, slot].set(True, mode="drop")
    rows = jnp.minimum(row, conn.n_pre - 1)
    slots = jnp.broadcast_to(
        jnp.arange(conn.max_row, dtype=jnp.int32), (pre.shape[0], conn.max_row)
    )
    keep = ~drop[rows] & (slots < conn.row_length[rows][:, None])
    length, source = compact(keep, conn.max_row, slots, fills=conn.max_row)

    def move(leaf, fill):
        moved = jnp.take_along_axis(leaf[rows], source, axis=1, mode="fill", fill_value=fill)
        return jnp.asarray(leaf).at[row].set(moved, mode="drop")

    indices = move(conn.indices, conn.n_post)
    row_length = conn.row_length.at[row].set(length, mode="drop")
    shape = conn.indices.shape
    variables = jax.tree.map(lambda v: move(v, 0) if is_synaptic(v, shape) else v, variables)
    removed = (conn.n_synapses - jnp.sum(row_length)).astype(jnp.int32)
    return Connectivity(indices, row_length, conn.n_post), variables, removed


def add_pairs(
    conn: Connectivity,
    pre: Int[Array, " k"],
    post: Int[Array, " k"],
    variables=None,
    new_values=None,
    *,
    valid: Bool[Array, " k"] | None = None,
    limit: Int[Array, ""] | int | None = None,
):
    """Adds synapses ``pre[j] -> post[j]``, appended at the end of their rows.

    Candidates are taken in order, as if one at a time: a valid candidate is
    written unless it is out of range, already in its row or a repeat of an
    earlier candidate (rejected), its row is full (overflow), or ``limit``
    synapses have been written already (ignored). Nothing is written past a
    row's capacity.

    Args:
        conn: the connectivity.
        pre, post: ``int[k]`` candidate pairs.
        variables: per-synapse variables (see module docstring).
        new_values: values of the new synapses: a PyTree like ``variables``
            whose per-synapse leaves are scalars or ``[k]`` arrays. None
            gives zeros.
        valid: ``bool[k]`` which candidates to consider (default all).
        limit: the most synapses to write (default no limit).

    Returns:
        ``(conn, variables, AddStats)``.

    Cost: two sorts of ``k`` and a ``[k, max_row]`` gather; nothing scales
    with ``n_pre * max_row`` except the scatters' output buffers.
    """
    pre = jnp.asarray(integer("pre", pre), jnp.int32)
    post = jnp.asarray(integer("post", post), jnp.int32)
    if pre.ndim != 1 or pre.shape != post.shape:
        raise ValueError(f"pre and post must be 1-D of equal shape, got {pre.shape}, {post.shape}")
    asked = jnp.ones(pre.shape, bool) if valid is None else jnp.asarray(valid, bool)
    if asked.shape != pre.shape:
        raise ValueError(f"valid has shape {asked.shape}, expected {pre.shape}")
    if conn.n_pre == 0 or pre.shape[0] == 0:
        zero = jnp.zeros((), jnp.int32)
        return conn, variables, AddStats(zero, jnp.sum(asked, dtype=jnp.int32), zero)
    in_range = (pre >= 0) & (pre < conn.n_pre) & (post >= 0) & (post < conn.n_post)
    pre_c = jnp.clip(pre, 0, max(conn.n_pre - 1, 0))
    present = jnp.any(conn.indices[pre_c] == post[:, None], axis=1)
    valid = asked & in_range
    new = valid & ~present & ~repeats(jnp.where(valid, pre_c, conn.n_pre), post)
    rank = rank_in_group(jnp.where(new, pre_c, conn.n_pre), new)
    length = conn.row_length[pre_c]
    fits = new & (rank < conn.max_row - length)
    in_budget = True if limit is None else _exclusive_count(fits) < limit
    accepted = fits & in_budget
    row = jnp.where(accepted, pre_c, conn.n_pre)
    slot = length + rank
    indices = conn.indices.at[row, slot].set(post, mode="drop")
    row_length = conn.row_length.at[pre_c].add(accepted.astype(jnp.int32))
    variables = _write_new(variables, new_values, row, slot, conn.indices.shape, pre.shape[0])
    stats = AddStats(
        added=jnp.sum(accepted, dtype=jnp.int32),
        rejected=jnp.sum(asked & ~new, dtype=jnp.int32),
        overflow=jnp.sum(new & ~fits & in_budget, dtype=jnp.int32),
    )
    return Connectivity(indices, row_length, conn.n_post), variables, stats


def add(
    conn: Connectivity,
    targets: Int[Array, "pre k"],
    variables=None,
    new_values=None,
    *,
    valid: Bool[Array, "pre k"] | Int[Array, " pre"] | None = None,
):
    """Appends per-row new targets at ``row_length``, by the rules of :func:`add_pairs`.

    Args:
        conn: the connectivity.
        targets: ``int[n_pre, k]`` new postsynaptic targets of each row.
        variables: per-synapse variables (see module docstring).
        new_values: as in :func:`add_pairs`, per-synapse leaves scalars or
            ``[n_pre, k]`` arrays.
        valid: ``bool[n_pre, k]`` mask, or ``int[n_pre]`` count of leading
            targets to use per row (default all).

    Returns:
        ``(conn, variables, AddStats)``; within a row, candidates are taken
        left to right.

    Row-parallel and sort-free (``spars.kernels.structure.append_rows``; on
    CUDA one program per row that reads the row only up to ``row_length``).
    """
    targets = jnp.asarray(integer("targets", targets), jnp.int32)
    if targets.ndim != 2 or targets.shape[0] != conn.n_pre:
        raise ValueError(f"targets must have shape [n_pre={conn.n_pre}, k], got {targets.shape}")
    n_pre, k = targets.shape
    if valid is not None and jnp.ndim(valid) == 1:
        valid = jnp.arange(k)[None, :] < jnp.asarray(valid)[:, None]
    asked = jnp.ones(targets.shape, bool) if valid is None else valid
    asked = jnp.broadcast_to(jnp.asarray(asked, bool), targets.shape)
    synaptic, positions, rebuild = _split_synaptic(variables, conn.indices.shape)
    values = jax.tree.leaves(new_values) if new_values is not None else None
    pairs = []
    for leaf, position in zip(synaptic, positions, strict=True):
        value = 0 if values is None else values[position]
        pairs += [leaf, jnp.broadcast_to(cast_new(value, leaf.dtype), targets.shape)]
    static = {"n_post": conn.n_post}
    *arrays, added, rejected, overflow = dispatch(
        partial(KS.append_rows, **static), partial(KS.append_rows_reference, **static),
        targets, asked, conn.row_length, conn.indices, *pairs,
        twin_only=conn.indices.size == 0 or k == 0,
    )
    row_length, indices, *moved = arrays
    stats = AddStats(added, rejected, overflow)
    return Connectivity(indices, row_length, conn.n_post), rebuild(moved), stats


def trim(conn: Connectivity, variables=None, max_row: int | None = None):
    """Shrinks (or grows) the row capacity; eager, since capacity is a shape.

    Args:
        conn: the connectivity (concrete).
        variables: per-synapse variables (see module docstring).
        max_row: the new capacity; default the longest row.

    Returns:
        ``(conn, variables)`` with ``max_row`` columns.

    Raises:
        ValueError: if a row is longer than ``max_row``.
    """
    longest = int(np.max(np.asarray(conn.row_length), initial=0))
    width = longest if max_row is None else int(max_row)
    if width < longest:
        raise ValueError(f"max_row={width} is shorter than the longest row ({longest})")
    source = jnp.broadcast_to(jnp.arange(width, dtype=jnp.int32), (conn.n_pre, width))
    source = jnp.where(source < conn.row_length[:, None], source, conn.max_row)
    return _move_slots(conn, source, conn.row_length, variables)


def cap_rows(conn: Connectivity, variables=None, *, quantile: float, headroom: float = 1.0):
    """Row capacity from a quantile of the row lengths: the few longest rows are cut.

    Padded rows cost memory for the longest row times ``n_pre``; for short,
    variable rows (``fixed_probability`` at small ``p``) that is 1.4-2x the
    synapses. This sets ``max_row = ceil(headroom * quantile(row_length, q))``
    (at least 1 where any synapse exists) and removes the synapses beyond it
    from the rows that are longer (each row keeps its first ``max_row``),
    moving every per-synapse variable. Eager (capacity is a shape).

    Args:
        conn: the connectivity (concrete).
        variables: per-synapse variables (see module docstring).
        quantile: in ``[0, 1]``; 1 keeps every synapse.
        headroom: capacity factor (>= 1) over the quantile, for rewiring.

    Returns:
        ``(conn, variables, dropped)``: ``dropped`` the number of synapses
        removed (an int), never silently lost.
    """
    fraction("quantile", quantile)
    length = np.asarray(conn.row_length)
    needed = int(np.ceil(np.quantile(length, quantile))) if length.size else 0
    width = capacity(max(needed, int(length.max(initial=0) > 0)), headroom)
    keep = np.broadcast_to(np.arange(conn.max_row)[None, :] < width, conn.indices.shape)
    conn, variables, dropped = remove(conn, jnp.asarray(keep), variables)
    conn, variables = trim(conn, variables, max_row=width)
    return conn, variables, int(dropped)


def _split_synaptic(variables, shape: tuple[int, int]):
    """The per-synapse leaves of ``variables``, their positions among all leaves, and
    ``rebuild(moved)``: ``variables`` with those leaves replaced by ``moved``."""
    leaves, treedef = jax.tree.flatten(variables)
    positions = [k for k, leaf in enumerate(leaves) if is_synaptic(leaf, shape)]

    def rebuild(moved):
        out = list(leaves)
        for k, leaf in zip(positions, moved, strict=True):
            out[k] = leaf
        return jax.tree.unflatten(treedef, out)

    return [jnp.asarray(leaves[k]) for k in positions], positions, rebuild


def _move_slots(conn, source, row_length, variables):
    """Rows rebuilt from old slots ``source`` (``max_row``: padding), variables moved too."""
    indices = jnp.take_along_axis(conn.indices, source, axis=1, mode="fill", fill_value=conn.n_post)
    new = Connectivity(indices, row_length, conn.n_post)
    return new, relocate(variables, source, conn.max_row)


def _exclusive_count(flags):
    flags = flags.astype(jnp.int32)
    return jnp.cumsum(flags) - flags


def _write_new(variables, new_values, row, slot, shape, k):
    if variables is None:
        return None
    if new_values is None:
        new_values = jax.tree.map(lambda _: 0, variables)

    def write(leaf, value):
        if not is_synaptic(leaf, shape):
            return leaf
        value = jnp.broadcast_to(cast_new(value, jnp.asarray(leaf).dtype), (k,))
        return jnp.asarray(leaf).at[row, slot].set(value, mode="drop")

    return jax.tree.map(write, variables, new_values)


def cast_new(value, dtype):
    """A new synapse's ``value`` as the variable's ``dtype``, never silently truncated.

    A fractional value for an integer variable is an error (now if concrete,
    under ``jit`` through ``eqx.error_if``).
    """
    value = jnp.asarray(value) if is_concrete(value) else value
    if not (jnp.issubdtype(dtype, jnp.integer) and jnp.issubdtype(jnp.result_type(value),
                                                                   jnp.floating)):  # fmt: skip
        return jnp.asarray(value, dtype)
    message = f"a new synapse's value is fractional but the variable is {dtype}: it would be cut"
    if is_concrete(value):
        if np.any(np.asarray(value) != np.round(np.asarray(value))):
            raise ValueError(f"{message} ({np.asarray(value).ravel()[:4]})")
        return jnp.asarray(value, dtype)
    return eqx.error_if(value, value != jnp.round(value), message).astype(dtype)
