"""Pieces shared by the rewiring rules: magnitude selection and random regrowth."""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._prefix import count_prefix
from ..connectivity import Connectivity
from ..structure import RewireStats, add_pairs, remove


def weight_of(variables):
    """The weight array of ``variables``: the array itself or its ``"weight"`` entry."""
    if isinstance(variables, dict):
        if "weight" not in variables:
            raise ValueError(f"variables has no 'weight' entry (keys: {sorted(variables)})")
        return variables["weight"]
    return variables


def new_synapse_values(variables, own: dict, new_synapse, key, pre, post):
    """New-synapse values for :func:`spars.structure.add_pairs`.

    The rule's ``own`` entries (e.g. ``{"weight": 0.0}``) win, then what
    ``new_synapse(key, pre, post)`` gives (e.g. ``{"delay": ...}``), then 0.
    A bare array of ``variables`` takes ``own["weight"]``.
    """
    if not isinstance(variables, dict):
        if new_synapse is not None:
            raise ValueError("new_synapse needs variables as a dict (e.g. with a 'delay' entry)")
        return own["weight"]
    extra = {} if new_synapse is None else dict(new_synapse(key, pre, post))
    unknown = sorted(set(extra) - set(variables))
    if unknown:
        raise ValueError(f"new_synapse gave {unknown}, which are not among the variables "
                         f"{sorted(variables)}")  # fmt: skip
    zeros = jax.tree.map(lambda _: 0, variables)
    return {**zeros, **extra, **own}


def check_pre_sign(conn: Connectivity, pre_sign):
    """``pre_sign`` as float ``[n_pre]`` of +-1 (Dale's law), or a clear error."""
    if jnp.shape(pre_sign) != (conn.n_pre,):
        raise ValueError(
            f"pre_sign must have shape [n_pre]=({conn.n_pre},), got {jnp.shape(pre_sign)}"
        )
    if not isinstance(pre_sign, jax.core.Tracer) and not np.all(np.abs(np.asarray(pre_sign)) == 1):
        raise ValueError("pre_sign must hold +1 (excitatory) or -1 (inhibitory) per neuron")
    return jnp.asarray(pre_sign, jnp.float32)


def dale_signs(pre_sign, name: str = "sign"):
    """``new_synapse`` hook giving each new synapse its presynaptic neuron's sign.

    For rules whose new synapses otherwise start at 0 in every other
    variable (SET, RigL, topographic): ``{name: pre_sign[pre]}``. Combine
    with other hooks by calling them in one function.
    """
    pre_sign = jnp.asarray(pre_sign, jnp.float32)

    def new_synapse(key, pre, post):
        del key, post
        return {name: pre_sign[pre]}

    return new_synapse


def smallest(score, mask, count):
    """``bool`` mask of the ``count`` smallest ``score`` entries where ``mask``.

    Ties go to the lower flat index. ``count`` may be traced.
    """
    flat = jnp.where(mask, score, jnp.inf).reshape(-1)
    order = jnp.argsort(flat, stable=True)
    rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
    return (rank < count).reshape(score.shape) & mask


def remove_weakest(conn: Connectivity, variables, count):
    """Removes the ``count`` real synapses of smallest weight magnitude.

    Returns:
        ``(conn, variables, n_removed)`` as :func:`spars.structure.remove`.
    """
    drop = smallest(jnp.abs(weight_of(variables)), conn.mask, count)
    return remove(conn, ~drop, variables)


def default_candidates(conn: Connectivity) -> int:
    """Candidates per regrowth round: 1/128 of the slots, at least 128."""
    return max(128, conn.n_pre * conn.max_row // 128)


def sample_free_pairs(key, conn: Connectivity, k: int, autapses: bool = True):
    """``k`` random pairs: ``pre`` uniform over rows with a free slot, ``post`` uniform.

    Among the pairs not yet connected this is uniform over non-full rows, once
    connected pairs are rejected (as :func:`spars.structure.add_pairs` does).

    Returns:
        ``(pre, post, any_room)``: ``int32[k]`` twice and a bool scalar.
    """
    key_pre, key_post = jax.random.split(key)
    room = count_prefix(conn.row_length < conn.max_row)
    n_room = room[-1]
    draw = jax.random.randint(key_pre, (k,), 0, jnp.maximum(n_room, 1))
    pre = jnp.searchsorted(room, draw, side="right").astype(jnp.int32)
    pre = jnp.minimum(pre, conn.n_pre - 1)
    post = random_targets(key_post, pre, conn.n_post, autapses)
    return pre, post, (n_room > 0) & (conn.n_post > (0 if autapses else 1))


def random_targets(key, pre, n_post: int, autapses: bool = True):
    """``int32`` uniform targets for each ``pre``, never ``pre`` itself unless ``autapses``."""
    n_targets = n_post if autapses else n_post - 1
    post = jax.random.randint(key, pre.shape, 0, max(n_targets, 1), dtype=jnp.int32)
    return post if autapses else post + (post >= pre)


def regrow(key, conn, variables, removed, new_values, *, n_candidates, max_rounds, autapses):
    """Replaces ``removed`` synapses at random unconnected pairs in rows with room.

    Rounds of ``n_candidates`` random pairs (see :func:`sample_free_pairs`;
    None: :func:`default_candidates`) until ``removed`` are placed, no row
    has room, or ``max_rounds`` are spent.

    Args:
        new_values: ``(key, pre, post) -> PyTree`` of new-synapse values
            for candidate pairs ``int32[k]``, as in :func:`spars.structure.add_pairs`.

    Returns:
        ``(conn, variables, RewireStats)``.
    """
    if conn.n_pre == 0 or conn.max_row == 0:
        return conn, variables, RewireStats(removed, 0 * removed, removed)
    n_new = removed
    n_candidates = n_candidates or default_candidates(conn)

    def go_on(carry):
        conn, _, added, round_, room = carry
        return (added < n_new) & (round_ < max_rounds) & room

    def one_round(carry):
        conn, variables, added, round_, _ = carry
        key_pairs, key_values = jax.random.split(jax.random.fold_in(key, round_))
        pre, post, room = sample_free_pairs(key_pairs, conn, n_candidates, autapses)
        values = new_values(key_values, pre, post)
        conn, variables, stats = add_pairs(
            conn,
            pre,
            post,
            variables,
            values,
            valid=jnp.broadcast_to(room, pre.shape),
            limit=n_new - added,
        )
        return conn, variables, added + stats.added, round_ + 1, room

    zero = jnp.zeros((), jnp.int32)
    start = (conn, variables, zero, zero, jnp.asarray(True))
    conn, variables, added, _, _ = lax.while_loop(go_on, one_round, start)
    return conn, variables, RewireStats(removed, added, removed - added)
