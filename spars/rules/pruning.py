"""Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune").

The sparsity (the fraction of the dense ``n_pre x n_post`` weights that are
absent) follows

    s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (n * dt))^3

over ``n`` pruning steps ``dt`` apart from step ``t_0``; at each pruning step
the smallest-magnitude synapses are removed, for good, until the projection
is that sparse. :func:`spars.structure.trim` then shrinks the row capacity.
"""

import jax.numpy as jnp

from .._checks import fraction
from ..connectivity import Connectivity
from ..structure import RewireStats
from ._common import remove_weakest


def zhu_gupta_sparsity(
    step,
    *,
    initial_sparsity: float,
    final_sparsity: float,
    begin_step: int,
    end_step: int,
    frequency: int = 1,
):
    """Target sparsity at ``step`` (cubic ramp, constant between pruning steps).

    Args:
        step: training step (may be traced).
        initial_sparsity, final_sparsity: ``s_i`` and ``s_f`` in [0, 1].
        begin_step, end_step: ``t_0`` and ``t_0 + n * dt``.
        frequency: ``dt``, steps between pruning steps.

    Returns:
        A float32 scalar: ``s_i`` before ``begin_step``, ``s_f`` after ``end_step``.
    """
    if end_step <= begin_step or frequency < 1:
        raise ValueError(
            f"need end_step > begin_step and frequency >= 1, got "
            f"{begin_step=}, {end_step=}, {frequency=}"
        )
    elapsed = jnp.clip(jnp.asarray(step) - begin_step, 0, end_step - begin_step)
    elapsed = (elapsed // frequency) * frequency
    progress = elapsed.astype(jnp.float32) / (end_step - begin_step)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** 3


def magnitude_prune(key, conn: Connectivity, variables, *, sparsity):
    """Removes the smallest-magnitude synapses until ``sparsity`` is reached.

    Args:
        key: unused (the rule is deterministic); kept for the common rule signature.
        conn: the connectivity.
        variables: the weights, or a dict with a ``"weight"`` entry.
        sparsity: target fraction of absent synapses of the dense
            ``n_pre x n_post`` matrix (may be traced), e.g. from
            :func:`zhu_gupta_sparsity`.

    Returns:
        ``(conn, variables, RewireStats)`` with ``added = failed = 0``.
    """
    del key
    sparsity = fraction("sparsity", sparsity)
    n_keep = jnp.floor((1.0 - sparsity) * conn.n_pre * conn.n_post + 1e-6).astype(jnp.int32)
    n_drop = jnp.maximum(conn.n_synapses - n_keep, 0)
    conn, variables, removed = remove_weakest(conn, variables, n_drop)
    zero = jnp.zeros((), jnp.int32)
    return conn, variables, RewireStats(removed, zero, zero)
