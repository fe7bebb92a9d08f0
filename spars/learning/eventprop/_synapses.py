"""Synapses of the precise simulation: what events deliver, and the transpose.

An event of presynaptic neuron ``i`` with value ``s`` (1 for a spike; input
counts are graded) at step time ``phi`` [steps, relative to the start of
the step that pushes it] reaches a synapse of delay ``d`` at ``tau = phi +
d``: in step ``m = ceil(tau) - 1`` from now (at least 0) at fraction ``r =
tau - m``. There it adds ``s w k_i(r)`` to the target's current and ``s w
k_v(r)`` to its potential at that step's end (``_cells``).

Without delays every synapse has ``d = 1``: inputs of step ``k`` (``phi =
0``) arrive at the end of step ``k`` (``r = 1``), hidden spikes of step
``k - 1`` (``phi = sigma - 1``) at fraction ``sigma`` of step ``k``. Forward,
those are plain propagations of per-neuron values (``spars.propagate`` or a
matmul); delayed synapses scatter each synapse into a ring of steps. The
transpose (:func:`pull_events`) walks the listed events' rows in every case
(a dense matrix as rows of every target), so its work follows the spikes.
"""

from typing import NamedTuple

import jax.numpy as jnp

from ...propagation import propagate
from ..synapses import DenseSynapses, SparseSynapses


def is_delayed(syn) -> bool:
    return isinstance(syn, SparseSynapses) and syn.delay is not None


def linear(syn, values):
    """``values [C, B, n_pre]`` (one per channel) through the weights: ``[C, B, n_post]``."""
    if isinstance(syn, DenseSynapses):
        return values @ syn.weight
    return propagate(syn.conn, syn.weight, values)


class Rows(NamedTuple):
    """Synapses as padded rows: targets (``n_post`` in padding), weights, delays [steps]."""

    indices: jnp.ndarray  # int32[n_pre, row]
    weight: jnp.ndarray  # [n_pre, row]
    delay: jnp.ndarray | None  # [n_pre, row]; None: every synapse 1 step


def rows_of(syn) -> Rows:
    """A projection's rows; a dense matrix is rows of every target, without delays."""
    if isinstance(syn, DenseSynapses):
        n_pre, n_post = syn.weight.shape
        targets = jnp.broadcast_to(jnp.arange(n_post, dtype=jnp.int32), (n_pre, n_post))
        return Rows(targets, syn.weight, None)
    return Rows(syn.conn.indices, syn.weight, syn.delay)


def arrival(delay, phi, max_delay: int):
    """``(m, r)``: steps from now [int32] and in-step fraction of an arrival at ``phi + d``."""
    tau = phi[..., None] + delay
    m = jnp.clip(jnp.ceil(tau) - 1, 0, max_delay - 1)
    return m.astype(jnp.int32), tau - m


def _targets(rows: Rows, cell_n: int, n_slots: int, b, i, valid, now, phi, s):
    """Flat ring targets of the current and potential channels, arrival fractions, values."""
    idx = rows.indices[i]
    delay = 1.0 if rows.delay is None else rows.delay[i].astype(phi.dtype)
    m, r = arrival(delay, phi, n_slots)
    slot = (now + m) % n_slots
    base = (b[:, None] * n_slots + slot) * (2 * cell_n)
    live = valid[:, None] & (idx < cell_n)
    outside = s.shape[0] * n_slots * 2 * cell_n
    t_i = jnp.where(live, base + idx, outside)
    return t_i, jnp.where(live, t_i + cell_n, outside), r, jnp.where(valid, s, 0.0)


def push_events(rows: Rows, cell, ring_flat, now, phi, s, events):
    """Adds events ``(b, i, valid)`` (arrays of one chunk) into ``ring_flat [B * D * 2 n]``.

    ``phi``, ``s``: ``[B, n_pre]`` times and values of the presynaptic neurons.
    """
    b, i, valid = events
    n_slots = ring_flat.shape[0] // (s.shape[0] * 2 * cell.neuron.n)
    t_i, t_v, r, value = _targets(rows, cell.neuron.n, n_slots, b, i, valid, now,
                                  phi[b, i], s[b, i])  # fmt: skip
    w = rows.weight[i] * value[:, None]
    ring_flat = ring_flat.at[t_i].add(w * cell.k_i(r)[0], mode="drop")
    return ring_flat.at[t_v].add(w * cell.k_v(r)[0], mode="drop")


def pull_events(rows: Rows, cell, lam_flat, now, phi, s, events, acc):
    """Transpose of :func:`push_events`: adds into ``acc = (dW, dd | None, dphi [B, n_pre])``.

    ``lam_flat`` is the ring of ``dL/d arrivals`` laid out like the forward ring
    (one slot, ``now = 0``, for synapses without delays).
    """
    b, i, valid = events
    n_slots = lam_flat.shape[0] // (s.shape[0] * 2 * cell.neuron.n)
    t_i, t_v, r, value = _targets(rows, cell.neuron.n, n_slots, b, i, valid, now,
                                  phi[b, i], s[b, i])  # fmt: skip
    g_i = lam_flat.at[t_i].get(mode="fill", fill_value=0.0)
    g_v = lam_flat.at[t_v].get(mode="fill", fill_value=0.0)
    (k_i, dk_i), (k_v, dk_v) = cell.k_i(r), cell.k_v(r)
    d_weight, d_delay, d_phi = acc
    d_weight = d_weight.at[i].add(value[:, None] * (g_i * k_i + g_v * k_v))
    d_r = value[:, None] * rows.weight[i] * (g_i * dk_i + g_v * dk_v)
    if d_delay is not None:
        d_delay = d_delay.at[i].add(d_r)
    return d_weight, d_delay, d_phi.at[b, i].add(d_r.sum(-1))


def all_events(batch: int, n_pre: int):
    """Every ``(b, i)`` pair as one chunk (the reference path, differentiable by ``jax``)."""
    b, i = jnp.divmod(jnp.arange(batch * n_pre, dtype=jnp.int32), n_pre)
    return b, i, jnp.ones(b.shape, bool)
