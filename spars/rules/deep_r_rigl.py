"""DEEP R's removal with RigL's gradient-based regrowth.

The combination used for learning delays and structure together
(Mészáros, Knight & Nowotny 2024, arXiv 2407.18917): synapses whose
``theta`` fell below 0 are removed, as in :func:`spars.rules.deep_r`, and
as many are grown where a new synapse would lower the loss fastest, as in
:func:`spars.rules.rigl`, so the synapse count stays constant.

A new synapse starts at ``theta = 0`` with sign ``s``, so its weight grows
at rate ``-s * dL/dw``. With Dale's law (``pre_sign``) the sign is the
presynaptic neuron's and candidates are ranked by ``-s * dL/dw``; without
it the sign is ``-sign(dL/dw)`` and candidates are ranked by ``|dL/dw|``.
"""

import jax
import jax.numpy as jnp

from ..connectivity import Connectivity
from ..structure import RewireStats, add_pairs, remove
from ._common import check_pre_sign, new_synapse_values, sample_free_pairs
from .rigl import check_dense, dense_candidates


def deep_r_rigl(
    key,
    conn: Connectivity,
    variables: dict,
    grad,
    *,
    pre_sign=None,
    autapses: bool = True,
    n_candidates: int | None = None,
    new_synapse=None,
):
    """Dormant synapses out (``theta < 0``), as many in where the gradient is best.

    Args:
        key: PRNG key (candidate sampling; unused with a dense gradient).
        conn: the connectivity.
        variables: dict with ``"theta"`` and ``"sign"`` (as for DEEP R) and
            any other per-synapse variables (0 on new synapses).
        grad: the signed weight gradient ``dL/dw``: dense ``[n_pre, n_post]``,
            or ``(pre int32[k], post int32[k]) -> float[k]`` evaluated at
            ``n_candidates`` random free pairs
            (:func:`spars.rules.outer_product_grad`).
        pre_sign: Dale's law, ``[n_pre]`` of +1 / -1, or None.
        autapses: whether new synapses may join a neuron to itself.
        n_candidates: pairs scored when ``grad`` is a function (static);
            default 4 x the slots.
        new_synapse: ``(key, pre, post) -> dict`` for other variables
            (e.g. a delay); default 0.

    Returns:
        ``(conn, variables, RewireStats)``; ``failed`` counts removals that
        found no place among the candidates.
    """
    for name in ("theta", "sign"):
        if name not in variables:
            raise ValueError(f"DEEP R variables need a {name!r} entry, got {sorted(variables)}")
    pre_sign = None if pre_sign is None else check_pre_sign(conn, pre_sign)
    conn, variables, removed = remove(conn, variables["theta"] >= 0, variables)
    bound = max(1, conn.n_pre * conn.max_row)
    if callable(grad):
        pre, post, room = sample_free_pairs(key, conn, n_candidates or 4 * bound, autapses)
        g = grad(pre, post)
        order = jnp.argsort(-_growth(g, pre, pre_sign))
        pre, post, g = pre[order], post[order], g[order]
        valid = jnp.broadcast_to(room, pre.shape)
    else:
        dense = check_dense(conn, grad)
        rows = jnp.arange(conn.n_pre)[:, None]
        pre, post, valid = dense_candidates(conn, _growth(dense, rows, pre_sign), bound, autapses)
        g = dense[pre, post]
    sign = -jnp.where(g > 0, 1.0, -1.0) if pre_sign is None else pre_sign[pre]
    key_new = None if new_synapse is None else jax.random.fold_in(key, 1)
    own = {"theta": 0.0, "sign": sign}
    values = new_synapse_values(variables, own, new_synapse, key_new, pre, post)
    conn, variables, stats = add_pairs(conn, pre, post, variables, values, valid=valid,
                                       limit=removed)  # fmt: skip
    return conn, variables, RewireStats(removed, stats.added, removed - stats.added)


def _growth(g, pre, pre_sign):
    """How fast a new synapse would lower the loss: ``-s * g``, or ``|g|`` without Dale."""
    return jnp.abs(g) if pre_sign is None else -pre_sign[pre] * g
