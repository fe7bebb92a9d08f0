"""Topographic formation and elimination (Bamford, Murray & Willshaw 2010).

As in the GeNN structural-plasticity framework: each update draws random
``(pre, post)`` candidates (``pre`` uniform over rows, ``post`` uniform). An
existing synapse among them is eliminated with probability ``p_elim_dep``
when its weight is below ``threshold``, else ``p_elim_pot``; a missing one is
formed with probability ``p_form * exp(-d^2 / 2 sigma^2)``, ``d`` the periodic
2-D distance between the pre and post positions (presynaptic positions scaled
onto the postsynaptic grid), with weight ``new_weight``. An optional cap on
the in-degree blocks formations onto full postsynaptic neurons.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from .._grid import squared_distance
from .._rows import rank_in_group, repeats
from ..column import in_degree
from ..connectivity import Connectivity
from ..structure import RewireStats, add_pairs, remove_listed
from ._common import new_synapse_values, random_targets, weight_of


class TopographicEvents(NamedTuple):
    """What happened to each candidate of one update.

    Attributes:
        pre, post: ``int32[k]`` the candidate pairs.
        eliminated: ``bool[k]`` the pair's synapse was removed.
        formed: ``bool[k]`` a synapse was created for the pair.
    """

    pre: Int[Array, " k"]
    post: Int[Array, " k"]
    eliminated: Bool[Array, " k"]
    formed: Bool[Array, " k"]


def topographic(
    key,
    conn: Connectivity,
    variables,
    *,
    pre_shape: tuple[int, int],
    post_shape: tuple[int, int],
    n_candidates: int,
    p_form: float,
    sigma: float,
    p_elim_dep: float,
    p_elim_pot: float,
    threshold: float,
    new_weight: float,
    max_in_degree: int | None = None,
    autapses: bool = True,
    return_events: bool = False,
    new_synapse=None,
):
    """One topographic update: eliminate weak synapses, form near ones.

    Args:
        key: PRNG key.
        conn: the connectivity between the two grids.
        variables: the weights, or a dict with a ``"weight"`` entry.
        pre_shape, post_shape: ``(rows, cols)`` of the two grids.
        n_candidates: random pairs examined per update (static).
        p_form: formation probability at distance 0.
        sigma: width of the formation Gaussian [postsynaptic grid units].
        p_elim_dep, p_elim_pot: elimination probability below / at or above
            ``threshold``.
        threshold: weight separating depressed from potentiated synapses.
        new_weight: weight of formed synapses.
        max_in_degree: if given, no formation onto a neuron with that many
            synapses (formations in one update counted in candidate order).
        autapses: whether a neuron may connect to itself (equal grids only).
        return_events: also return the per-candidate :class:`TopographicEvents`
            (for distance histograms of formations and eliminations).
        new_synapse: ``(key, pre, post) -> dict`` of values for new synapses'
            other variables (``pre``, ``post`` int32 ``[k]``), e.g. a delay
            from :func:`spars.delays.random_delays`; default 0.

    Returns:
        ``(conn, variables, RewireStats)``, plus the events if asked;
        ``failed`` counts formations whose row was full (those blocked by
        ``max_in_degree`` are not failures).
    """
    if (conn.n_pre, conn.n_post) != (pre_shape[0] * pre_shape[1], post_shape[0] * post_shape[1]):
        raise ValueError(f"grids {pre_shape} -> {post_shape} do not match {conn.shape}")
    key_pre, key_post, key_elim, key_form, key_new = jax.random.split(key, 5)
    pre, post = _candidates(key_pre, key_post, conn, n_candidates, autapses)
    if conn.n_pre == 0 or conn.n_post == 0:  # no pair to form or eliminate
        zero, none = jnp.zeros((), jnp.int32), jnp.zeros(pre.shape, bool)
        stats = RewireStats(zero, zero, zero)
        events = TopographicEvents(pre, post, none, none)
        return (conn, variables, stats, events) if return_events else (conn, variables, stats)
    first = ~repeats(pre, post)
    match = conn.indices[pre] == post[:, None]
    present = jnp.any(match, axis=1)
    if conn.max_row == 0:  # nothing present to eliminate; every formation overflows
        slot, weak = jnp.zeros(pre.shape, jnp.int32), jnp.zeros(pre.shape, bool)
    else:
        slot = jnp.argmax(match, axis=1)
        weak = weight_of(variables)[pre, slot] < threshold
    p_elim = jnp.where(weak, p_elim_dep, p_elim_pot)
    eliminate = first & present & (jax.random.uniform(key_elim, pre.shape) < p_elim)
    conn, variables, removed = remove_listed(conn, pre, slot, variables, valid=eliminate)

    d2 = squared_distance(pre, post, pre_shape, post_shape)
    p = p_form * jnp.exp(-d2 / (2.0 * sigma**2))
    form = first & ~present & (jax.random.uniform(key_form, pre.shape) < p)
    if max_in_degree is not None:
        queue = rank_in_group(jnp.where(form, post, conn.n_post), form)
        form = form & (in_degree(conn)[post] + queue < max_in_degree)
    own = {"weight": new_weight}
    new_values = new_synapse_values(variables, own, new_synapse, key_new, pre, post)
    conn, variables, stats = add_pairs(conn, pre, post, variables, new_values, valid=form)
    rewire_stats = RewireStats(removed, stats.added, stats.overflow)
    if not return_events:
        return conn, variables, rewire_stats
    formed = form & jnp.any(conn.indices[pre] == post[:, None], axis=1)
    return conn, variables, rewire_stats, TopographicEvents(pre, post, eliminate, formed)


def _candidates(key_pre, key_post, conn: Connectivity, k: int, autapses: bool):
    pre = jax.random.randint(key_pre, (k,), 0, max(conn.n_pre, 1), dtype=jnp.int32)
    return pre, random_targets(key_post, pre, conn.n_post, autapses)
