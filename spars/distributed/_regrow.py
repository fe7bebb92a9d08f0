"""Per-device pieces of the rules: global magnitude selection and random regrowth.

Candidate pairs are drawn from the key that every device shares, with
global presynaptic ids: every device draws the same list, as one device
would, so the rules' results equal the one-device ones.
"""

import jax
import jax.numpy as jnp
from jax import lax

from .._prefix import count_prefix
from ..connectivity import Connectivity
from ..convert import to_dense
from ..rules._common import random_targets, weight_of
from ..structure import RewireStats
from ._local import from_owner, row_offset, to_local
from .select import smallest, top_k
from .structure import add_pairs, n_pre, remove


def remove_weakest(conn: Connectivity, variables, count, axis: str):
    """Removes the ``count`` real synapses of smallest magnitude over all devices."""
    drop = smallest(jnp.abs(weight_of(variables)), conn.mask, count, axis)
    return remove(conn, ~drop, variables, axis=axis)


def default_candidates(conn: Connectivity, axis: str) -> int:
    """Candidates per regrowth round, as on one device: 1/128 of all slots, at least 128."""
    return max(128, n_pre(conn, axis) * conn.max_row // 128)


def sample_free_pairs(key, conn: Connectivity, k: int, axis: str, autapses: bool = True):
    """``k`` random pairs, ``pre`` uniform over all devices' rows with a free slot.

    The draw is the one-device one: device ``d`` owns the draws that fall
    among its rows with room (their counts are all-gathered, ``D`` ints) and
    tells the others which row (a ``psum`` of ``k`` ints).

    Returns:
        ``(pre, post, any_room)``, global ids, the same on every device.
    """
    key_pre, key_post = jax.random.split(key)
    room = count_prefix(conn.row_length < conn.max_row)
    counts = lax.all_gather(room[-1], axis)
    n_room = jnp.sum(counts)
    mine = lax.axis_index(axis)
    start = jnp.sum(jnp.where(jnp.arange(counts.shape[0]) < mine, counts, 0))
    draw = jax.random.randint(key_pre, (k,), 0, jnp.maximum(n_room, 1))
    owned = (draw >= start) & (draw < start + counts[mine])
    local = jnp.searchsorted(room, draw - start, side="right").astype(jnp.int32)
    total = n_pre(conn, axis)
    found = from_owner(local + row_offset(conn.n_pre, axis), owned, axis)
    pre = jnp.where(draw < n_room, found, total)
    pre = jnp.minimum(pre, total - 1)
    post = random_targets(key_post, pre, conn.n_post, autapses)
    return pre, post, (n_room > 0) & (conn.n_post > (0 if autapses else 1))


def regrow(key, conn, variables, removed, new_values, *, n_candidates, max_rounds, autapses,
           axis: str):  # fmt: skip
    """:func:`spars.rules._common.regrow` over all devices' rows (same rounds, same pairs)."""
    if n_pre(conn, axis) == 0 or conn.max_row == 0:
        return conn, variables, RewireStats(removed, 0 * removed, removed)
    n_candidates = n_candidates or default_candidates(conn, axis)

    def go_on(carry):
        _, _, added, round_, room = carry
        return (added < removed) & (round_ < max_rounds) & room

    def one_round(carry):
        conn, variables, added, round_, _ = carry
        key_pairs, key_values = jax.random.split(jax.random.fold_in(key, round_))
        pre, post, room = sample_free_pairs(key_pairs, conn, n_candidates, axis, autapses)
        values = new_values(key_values, pre, post)
        conn, variables, stats = add_pairs(conn, pre, post, variables, values,
                                           valid=jnp.broadcast_to(room, pre.shape),
                                           limit=removed - added, axis=axis)  # fmt: skip
        return conn, variables, added + stats.added, round_ + 1, room

    zero = jnp.zeros((), jnp.int32)
    start = (conn, variables, zero, zero, jnp.asarray(True))
    conn, variables, added, _, _ = lax.while_loop(go_on, one_round, start)
    return conn, variables, RewireStats(removed, added, removed - added)


def dense_candidates(conn: Connectivity, score, bound: int, autapses: bool, axis: str):
    """The ``bound`` unconnected pairs of largest ``score`` over all devices, best first.

    Args:
        score: this device's rows ``[n_local, n_post]`` of the dense score.

    Returns:
        ``(pre, post, valid)`` global ids, as ``spars.rules.rigl.dense_candidates``.
    """
    taken = to_dense(conn, conn.mask.astype(jnp.float32)) > 0
    rows = jnp.arange(conn.n_pre)[:, None] + row_offset(conn.n_pre, axis)
    if not autapses:
        taken = taken | (rows == jnp.arange(conn.n_post)[None, :])
    score = jnp.where(taken, -jnp.inf, score).reshape(-1)
    values, flat = lax.top_k(score, min(bound, score.shape[0]))
    flat = flat.astype(jnp.int32) + row_offset(conn.n_pre, axis) * conn.n_post
    k = min(bound, n_pre(conn, axis) * conn.n_post)
    values, flat = top_k(values, flat, k, axis)
    return flat // conn.n_post, flat % conn.n_post, values > -jnp.inf


def at_pairs(local_dense, pre, post, axis: str):
    """``dense[pre, post]`` for global ``pre`` (``local_dense``: this device's rows), on every
    device."""
    local, owned = to_local(pre, local_dense.shape[0], axis)
    return from_owner(local_dense[jnp.clip(local, 0, local_dense.shape[0] - 1), post], owned, axis)
