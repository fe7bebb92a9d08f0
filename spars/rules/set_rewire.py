"""SET: sparse evolutionary training (Mocanu et al. 2018, Nat. Commun. 9:2383).

At each rewiring, the fraction ``zeta`` of synapses with the smallest weight
magnitude is removed and as many are grown at random unconnected pairs.
"""

import jax
import jax.numpy as jnp

from .._checks import fraction
from ..connectivity import Connectivity
from ._common import new_synapse_values, regrow, remove_weakest


def set_rewire(
    key,
    conn: Connectivity,
    variables,
    *,
    zeta: float = 0.3,
    new_weight=0.0,
    autapses: bool = True,
    n_candidates: int | None = None,
    max_rounds: int = 32,
    new_synapse=None,
):
    """One SET step: drop the ``zeta`` smallest-magnitude synapses, regrow at random.

    Args:
        key: PRNG key.
        conn: the connectivity.
        variables: the weights ``[n_pre, max_row]``, or a dict with a
            ``"weight"`` entry and other per-synapse variables (0 on new synapses).
        zeta: fraction of the synapses replaced, in [0, 1].
        new_weight: weight of new synapses: a number, or ``(key, shape) ->
            array`` (e.g. ``lambda k, s: 0.1 * jax.random.normal(k, s)``).
        autapses, n_candidates, max_rounds, new_synapse: as in
            :func:`spars.rules.deep_r`.

    Returns:
        ``(conn, variables, RewireStats)``.
    """
    zeta = fraction("zeta", zeta)
    n_drop = jnp.floor(zeta * conn.n_synapses).astype(jnp.int32)
    conn, variables, removed = remove_weakest(conn, variables, n_drop)

    def new_values(key, pre, post):
        key_weight, key_new = jax.random.split(key)
        value = new_weight(key_weight, pre.shape) if callable(new_weight) else new_weight
        return new_synapse_values(variables, {"weight": value}, new_synapse, key_new, pre, post)

    return regrow(
        key,
        conn,
        variables,
        removed,
        new_values,
        n_candidates=n_candidates,
        max_rounds=max_rounds,
        autapses=autapses,
    )
