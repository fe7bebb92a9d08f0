"""The structural primitives on a row-sharded projection, per device (inside ``shard_map``).

Rows are independent, so :func:`remove` and :func:`add` act on each
device's rows as they are and only sum their counts over the devices.
:func:`add_pairs` and :func:`remove_listed` take candidates with *global*
presynaptic ids, the same list on every device: the device that owns a
candidate's row reads what the decision needs (is the pair present, how
long is the row; two ``psum`` of ``k`` ints), every device then takes the
one-device decision on the whole list, and each writes the synapses of its
own rows. Results and counts equal :mod:`spars.structure`'s on the
projection in one piece.
"""

import jax.numpy as jnp
from jax import lax

from .. import structure as S
from .._checks import integer
from .._rows import rank_in_group, repeats
from ..column import in_degree as local_in_degree
from ..connectivity import Connectivity
from ..structure import AddStats
from ._local import from_owner, n_shards, to_local


def n_pre(conn: Connectivity, axis: str) -> int:
    """Rows of all devices together (static)."""
    return conn.n_pre * n_shards(axis)


def n_synapses(conn: Connectivity, axis: str):
    """Real synapses of all devices together (int32 scalar)."""
    return lax.psum(conn.n_synapses, axis)


def in_degree(conn: Connectivity, axis: str):
    """``int32[n_post]`` synapses onto each postsynaptic neuron, from all devices' rows."""
    return lax.psum(local_in_degree(conn), axis)


def remove(conn: Connectivity, keep, variables=None, *, axis: str):
    """:func:`spars.structure.remove` on this device's rows; ``n_removed`` of all devices."""
    conn, variables, removed = S.remove(conn, keep, variables)
    return conn, variables, lax.psum(removed, axis)


def add(conn: Connectivity, targets, variables=None, new_values=None, *, valid=None, axis: str):
    """:func:`spars.structure.add` with this device's ``[n_local, k]`` targets; counts of all."""
    conn, variables, stats = S.add(conn, targets, variables, new_values, valid=valid)
    return conn, variables, AddStats(*(lax.psum(x, axis) for x in stats))


def remove_listed(conn: Connectivity, pre, slot, variables=None, *, valid=None, axis: str):
    """:func:`spars.structure.remove_listed` with global ``pre``: each device removes its own."""
    pre = jnp.asarray(integer("pre", pre), jnp.int32)
    local, owned = to_local(pre, conn.n_pre, axis)
    owned = owned if valid is None else owned & jnp.asarray(valid, bool)
    conn, variables, removed = S.remove_listed(conn, local, slot, variables, valid=owned)
    return conn, variables, lax.psum(removed, axis)


def add_pairs(conn: Connectivity, pre, post, variables=None, new_values=None, *, valid=None,
              limit=None, axis: str):  # fmt: skip
    """:func:`spars.structure.add_pairs` with global ``pre`` (the same list on every device).

    Returns:
        ``(conn, variables, AddStats)``, the stats of all devices together.
    """
    pre = jnp.asarray(integer("pre", pre), jnp.int32)
    post = jnp.asarray(integer("post", post), jnp.int32)
    if pre.ndim != 1 or pre.shape != post.shape:
        raise ValueError(f"pre and post must be 1-D of equal shape, got {pre.shape}, {post.shape}")
    asked = jnp.ones(pre.shape, bool) if valid is None else jnp.asarray(valid, bool)
    total = n_pre(conn, axis)
    if total == 0 or pre.shape[0] == 0:
        zero = jnp.zeros((), jnp.int32)
        return conn, variables, AddStats(zero, jnp.sum(asked, dtype=jnp.int32), zero)
    accepted, stats = _decide(conn, pre, post, asked, limit, axis)
    local, owned = to_local(pre, conn.n_pre, axis)
    conn, variables, _ = S.add_pairs(conn, local, post, variables, new_values,
                                     valid=accepted & owned)  # fmt: skip
    return conn, variables, stats


def _decide(conn: Connectivity, pre, post, asked, limit, axis: str):
    """``add_pairs``'s decision on the whole list: ``(accepted bool[k], AddStats)``."""
    total = n_pre(conn, axis)
    in_range = (pre >= 0) & (pre < total) & (post >= 0) & (post < conn.n_post)
    pre_c = jnp.clip(pre, 0, total - 1)
    local, owned = to_local(pre_c, conn.n_pre, axis)
    row = jnp.clip(local, 0, max(conn.n_pre - 1, 0))
    present = from_owner(jnp.any(conn.indices[row] == post[:, None], axis=1), owned, axis)
    length = from_owner(conn.row_length[row], owned, axis)
    valid = asked & in_range
    new = valid & ~present & ~repeats(jnp.where(valid, pre_c, total), post)
    rank = rank_in_group(jnp.where(new, pre_c, total), new)
    fits = new & (rank < conn.max_row - length)
    flags = fits.astype(jnp.int32)
    in_budget = True if limit is None else (jnp.cumsum(flags) - flags) < limit
    accepted = fits & in_budget
    stats = AddStats(
        added=jnp.sum(accepted, dtype=jnp.int32),
        rejected=jnp.sum(asked & ~new, dtype=jnp.int32),
        overflow=jnp.sum(new & ~fits & in_budget, dtype=jnp.int32),
    )
    return accepted, stats
