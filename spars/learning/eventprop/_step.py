"""One step of the precise-spike-time simulation, and its adjoint.

A CurrentLIF population with potential ``v`` (relative to rest) and current
``i`` at the start of a step, and arrivals ``dv``, ``di`` (the in-step
events' effect on the step's end, see ``_cells``), goes through:

    v_free = P22 v + P21 i + P20 bias + dv        i' = P11 i + di
    spike  if v_free >= theta (or v >= theta: then sigma = 0)
    sigma  = (theta - v) / (v_free - v)           the crossing of the line
                                                  from v to v_free, in (0, 1]
    v'     = v_free - spike (v_thresh - v_reset) exp(-(1 - sigma) dt / tau_mem)

:func:`cell_adjoint` is the exact transpose of this map for fixed spikes:
given ``dL/dv'``, ``dL/di'`` and ``dL/dsigma`` from downstream it returns
``dL/dv``, ``dL/di`` and the cotangents of the arrivals.
"""

from typing import NamedTuple

import jax.numpy as jnp

from ._cells import Cell


class CellState(NamedTuple):
    v: jnp.ndarray  # potential relative to rest [mV], [B, n]
    i: jnp.ndarray  # synaptic current [pA], [B, n]


class Spikes(NamedTuple):
    z: jnp.ndarray  # 1.0 where the neuron spiked in the step, [B, n]
    sigma: jnp.ndarray  # the spike's time in the step, a fraction of dt in [0, 1]
    inv_slope: jnp.ndarray  # 1 / (v_free - v) where sigma moves with them, else 0


def cell_step(cell: Cell, state: CellState, dv, di):
    """``(spikes, v_free, state after the step)``; ``dv`` [mV], ``di`` [pA] the arrivals."""
    v_free = cell.decay_v * state.v + cell.current_to_v * state.i + cell.bias_v + dv
    above = state.v >= cell.theta
    fired = (v_free >= cell.theta) | above
    crossing = fired & ~above
    slope = jnp.where(crossing, v_free - state.v, 1.0)
    sigma = jnp.where(crossing, (cell.theta - state.v) / slope, 0.0)
    z = fired.astype(v_free.dtype)
    v_next = v_free - z * cell.reset * cell.k_r(sigma)[0]
    spikes = Spikes(z, sigma, jnp.where(crossing, 1.0 / slope, 0.0))
    return spikes, v_free, CellState(v_next, cell.decay_i * state.i + di)


def cell_adjoint(cell: Cell, lam: CellState, spikes: Spikes, g_sigma, g_free=0.0):
    """Transpose of :func:`cell_step` at fixed spikes.

    Args:
        cell: the population's constants.
        lam: ``dL/dv``, ``dL/di`` of the state after the step.
        spikes: the step's spikes (``sigma``, ``inv_slope``).
        g_sigma: ``dL/dsigma`` through everything the spikes reach.
        g_free: a loss term's direct ``dL/dv_free`` (the regulariser's).

    Returns:
        ``(dL/d state before, dL/d v_free)``; ``dL/d v_free`` and ``lam.i``
        are the cotangents of ``dv`` and ``di``.
    """
    _, dk_r = cell.k_r(spikes.sigma)
    jump = spikes.z * (g_sigma - lam.v * cell.reset * dk_r)
    lam_free = lam.v + g_free - jump * spikes.sigma * spikes.inv_slope
    lam_v = cell.decay_v * lam_free - jump * (1.0 - spikes.sigma) * spikes.inv_slope
    lam_i = cell.decay_i * lam.i + cell.current_to_v * lam_free
    return CellState(lam_v, lam_i), lam_free
