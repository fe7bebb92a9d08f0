"""SET: sparse evolutionary training (Mocanu et al. 2018, Nat. Commun. 9:2383).

At each rewiring, the fraction ``zeta`` of synapses with the smallest weight
magnitude is removed and as many are grown at random unconnected pairs.
"""

import jax.numpy as jnp

from ..connectivity import Connectivity
from ._common import regrow, remove_weakest, with_new_weight


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
        autapses, n_candidates, max_rounds: as in :func:`spars.rules.deep_r`.

    Returns:
        ``(conn, variables, RewireStats)``.
    """
    n_drop = jnp.floor(zeta * conn.n_synapses).astype(jnp.int32)
    conn, variables, removed = remove_weakest(conn, variables, n_drop)

    def new_values(key, k):
        value = new_weight(key, (k,)) if callable(new_weight) else new_weight
        return with_new_weight(variables, value)

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
