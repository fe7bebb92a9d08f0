"""RigL: rigging the lottery (Evci, Gale, Menick, Castro & Elsen 2020, ICML).

At each rewiring, the fraction ``zeta`` of synapses with the smallest weight
magnitude is removed and as many are grown where the magnitude of the loss
gradient with respect to a (not yet existing) weight is largest. New synapses
start at weight 0.

The gradient of unconnected pairs is given in one of two ways:

* a dense ``[n_pre, n_post]`` array: exact RigL, for layers whose dense
  gradient fits in memory. Cost: ``O(n_pre * n_post)`` memory and a top-k.
* a function ``(pre int32[k], post int32[k]) -> float[k]``, evaluated on
  ``n_candidates`` random unconnected pairs in rows with room; the best of
  them are grown. Cost: ``O(n_candidates)`` score evaluations, never dense.
  For a projection driven by :func:`spars.propagate` the weight gradient is
  ``sum_m s[m, i] * g[m, j]`` (``s`` presynaptic spikes, ``g`` the gradient
  at the postsynaptic input, over batch and time ``m``):
  :func:`outer_product_score` evaluates exactly that at the candidates.
"""

import math

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import fraction
from ..connectivity import Connectivity
from ..convert import to_dense
from ..structure import RewireStats, add_pairs
from ._common import new_synapse_values, remove_weakest, sample_free_pairs


def outer_product_score(pre_activity, post_grad):
    """Gradient magnitude ``|sum_m pre_activity[m, i] * post_grad[m, j]|`` at pairs.

    Args:
        pre_activity: ``[..., n_pre]`` presynaptic spikes (or traces).
        post_grad: ``[..., n_post]`` loss gradient at the postsynaptic input,
            with the same leading (batch, time) axes.

    Returns:
        ``(pre int32[k], post int32[k]) -> float[k]``, cost ``O(k * m)``.
    """
    grad = outer_product_grad(pre_activity, post_grad)
    return lambda pre, post: jnp.abs(grad(pre, post))


def outer_product_grad(pre_activity, post_grad):
    """The signed weight gradient ``sum_m pre_activity[m, i] * post_grad[m, j]`` at pairs.

    As :func:`outer_product_score` without the magnitude (for
    :func:`spars.rules.deep_r_rigl`, whose new synapses take a sign).
    """
    a = jnp.reshape(jnp.asarray(pre_activity), (-1, jnp.shape(pre_activity)[-1]))
    g = jnp.reshape(jnp.asarray(post_grad), (-1, jnp.shape(post_grad)[-1]))
    if a.shape[0] != g.shape[0]:
        raise ValueError(
            f"leading axes differ: {jnp.shape(pre_activity)} vs {jnp.shape(post_grad)}"
        )

    def grad(pre, post):
        return jnp.sum(a[:, pre] * g[:, post], axis=0)

    return grad


def rigl(
    key,
    conn: Connectivity,
    variables,
    grad_score,
    *,
    zeta: float = 0.3,
    autapses: bool = True,
    n_candidates: int | None = None,
    new_synapse=None,
):
    """One RigL step: drop by weight magnitude, grow by gradient magnitude.

    Args:
        key: PRNG key (candidate sampling; unused with a dense gradient).
        conn: the connectivity.
        variables: the weights, or a dict with a ``"weight"`` entry.
        grad_score: dense ``[n_pre, n_post]`` gradient, or a function of
            ``(pre, post)`` (see module docstring).
        zeta: fraction of the synapses replaced, in [0, 1].
        autapses: whether new synapses may join a neuron to itself.
        n_candidates: random pairs scored when ``grad_score`` is a function
            (static); default 4x the most synapses ``zeta`` can drop.
        new_synapse: ``(key, pre, post) -> dict`` of values for new synapses'
            other variables (``pre``, ``post`` int32 ``[k]``), e.g. a delay
            from :func:`spars.delays.random_delays`; default 0.

    Returns:
        ``(conn, variables, RewireStats)``; ``failed`` counts drops that found
        no place among the candidates.
    """
    zeta = fraction("zeta", zeta)
    if conn.n_pre == 0 or conn.max_row == 0:  # no synapse to drop, no row to grow into
        zero = jnp.zeros((), jnp.int32)
        return conn, variables, RewireStats(zero, zero, zero)
    n_drop = jnp.floor(zeta * conn.n_synapses).astype(jnp.int32)
    conn, variables, removed = remove_weakest(conn, variables, n_drop)
    bound = max(1, math.ceil(zeta * conn.n_pre * conn.max_row))
    if callable(grad_score):
        k = n_candidates or 4 * bound
        pre, post, room = sample_free_pairs(key, conn, k, autapses)
        best = jnp.argsort(-grad_score(pre, post))
        pre, post, valid = pre[best], post[best], jnp.broadcast_to(room, (k,))
    else:
        pre, post, valid = dense_candidates(conn, jnp.abs(check_dense(conn, grad_score)), bound,
                                            autapses)  # fmt: skip
    key_new = None if new_synapse is None else jax.random.fold_in(key, 1)
    new_values = new_synapse_values(variables, {"weight": 0.0}, new_synapse, key_new, pre, post)
    conn, variables, stats = add_pairs(
        conn, pre, post, variables, new_values, valid=valid, limit=removed
    )
    return conn, variables, RewireStats(removed, stats.added, removed - stats.added)


def check_dense(conn: Connectivity, grad):
    grad = jnp.asarray(grad)
    if grad.shape != conn.shape:
        raise ValueError(f"dense gradient has shape {grad.shape}, expected {conn.shape}")
    return grad


def dense_candidates(conn: Connectivity, score, bound: int, autapses: bool):
    """The ``bound`` unconnected pairs of largest ``score [n_pre, n_post]``, best first."""
    taken = to_dense(conn, conn.mask.astype(jnp.float32)) > 0
    if not autapses:
        taken = taken | jnp.eye(*conn.shape, dtype=bool)
    score = jnp.where(taken, -jnp.inf, score).reshape(-1)
    values, flat = lax.top_k(score, min(bound, score.shape[0]))
    flat = flat.astype(jnp.int32)
    return flat // conn.n_post, flat % conn.n_post, values > -jnp.inf
