"""The simulation step shared by :meth:`EventPropSNN.run` and EventProp's recording pass.

Step ``k``: inputs ``x_k`` (at the step's start) and the hidden spikes of
step ``k - 1`` (at ``sigma``) are delivered (``_synapses``), the hidden
layer steps (``_step``), and the readout takes this step's hidden spikes at
their in-step times. With ``events`` the delayed synapses scatter only the
listed events (chunked loops, not reverse-differentiable); without, every
presynaptic row (the reference, for ``jax.grad``).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ...delays import DelayBuffer, delay_buffer
from ...kernels._events import Events, chunk_loop, default_event_capacity
from ..recurrent import check_inputs
from . import _synapses as S
from ._cells import Cell, k_leaky
from ._step import CellState, Spikes, cell_step


class Cells(NamedTuple):
    hidden: Cell
    readout: Cell | None  # None for a LeakyIntegrator readout


class Carry(NamedTuple):
    hidden: CellState
    readout: CellState | jax.Array  # a CurrentLIF's state, or the integrator's potential
    ring: DelayBuffer | None  # delayed input in flight: [B, D * 2 n] (current, potential)
    prev: Spikes  # the hidden spikes of the step before
    listed: tuple | None  # (ids, count) of ``prev`` when events are listed
    first: tuple | None  # spiking readout: (time [steps], fired, sigma, inv_slope, step)


class Trace(NamedTuple):
    """What :func:`simulate` returns (leading axis: steps)."""

    spikes: Spikes  # hidden spikes, sigma, inv_slope, each [T, B, n]
    v_free: jax.Array  # hidden potential at each step's end before any reset [mV rel. rest]
    readout: jax.Array  # [T, B, n_out] potentials, or [B, n_out] first spike times [ms]


def cells_of(model) -> Cells:
    readout = Cell.of(model.readout, model.b_out) if model.spiking_readout else None
    return Cells(Cell.of(model.hidden), readout)


def initial_carry(model, batch: int, dtype) -> Carry:
    n, n_out = model.hidden.n, model.readout.n
    zeros = jnp.zeros((batch, n), dtype)
    hidden = CellState(zeros, zeros)
    out = jnp.zeros((batch, n_out), dtype)
    readout = CellState(out, out) if model.spiking_readout else out
    ring = None
    if model.max_delay:
        ring = delay_buffer(model.max_delay, 2 * n, (batch,), dtype)
    first = None
    if model.spiking_readout:
        first = (out, jnp.zeros(out.shape, bool), out, out, jnp.zeros(out.shape, jnp.int32))
    return Carry(hidden, readout, ring, Spikes(zeros, zeros, zeros), None, first)


def step(model, cells: Cells, carry: Carry, x_k, k, events: bool):
    """``(carry, (spikes, v_free, readout potential or None))`` of step ``k``."""
    di, dv, ring = _arrivals(model, cells.hidden, carry, x_k, events)
    spikes, v_free, hidden = cell_step(cells.hidden, carry.hidden, dv, di)
    readout, y, first = _readout(model, cells, carry, spikes, k)
    carry = carry._replace(hidden=hidden, readout=readout, ring=ring, prev=spikes, first=first)
    return carry, (spikes, v_free, y)


def _arrivals(model, cell, carry: Carry, x_k, events: bool):
    n = cell.neuron.n
    x_k = x_k.astype(carry.hidden.v.dtype)
    di = dv = jnp.zeros_like(carry.hidden.v)
    prev = carry.prev
    if not S.is_delayed(model.w_in):
        di = di + S.linear(model.w_in, x_k[None])[0]
    if model.w_rec is not None and not S.is_delayed(model.w_rec):
        out = S.linear(model.w_rec, recurrent_values(cell, prev))
        di, dv = di + out[0], dv + out[1]
    ring = carry.ring
    if ring is None:
        return di, dv, None
    flat = ring.values.reshape(-1)
    pushes = [(model.w_in, jnp.zeros_like(x_k), x_k, None)]
    pushes.append((model.w_rec, prev.sigma - 1.0, prev.z, carry.listed))
    for syn, phi, s, listed in pushes:
        if S.is_delayed(syn):
            flat = _push(syn, cell, flat, ring.now, phi, s, listed, events)
    arrived, ring = DelayBuffer(flat.reshape(ring.values.shape), ring.now, ring.max_delay).pop()
    return di + arrived[:, :n], dv + arrived[:, n:], ring


def recurrent_values(cell: Cell, prev: Spikes):
    """``[2, B, n]``: each spike's current and potential kernels at its arrival (``r = sigma``)."""
    return jnp.stack([prev.z * cell.k_i(prev.sigma)[0], prev.z * cell.k_v(prev.sigma)[0]])


def _push(syn, cell, flat, now, phi, s, listed, events: bool):
    batch, n_pre = s.shape
    rows = S.rows_of(syn)
    if not events:
        return S.push_events(rows, cell, flat, now, phi, s, S.all_events(batch, n_pre))
    listed = listed or Events.of(s)
    ids, count, capacity = _unpack(listed, s)

    def body(b, i, valid, flat):
        return S.push_events(rows, cell, flat, now, phi, s, (b, i, valid))

    return chunk_loop(ids, count, capacity, n_pre, body, flat)


def _unpack(listed, s):
    if isinstance(listed, Events):
        return listed.ids, listed.count, listed.capacity
    return (*listed, default_event_capacity(s.size))  # the chunk of the record's window


def _readout(model, cells: Cells, carry: Carry, spikes: Spikes, k):
    if not model.spiking_readout:
        r = model.readout
        kernel = k_leaky(spikes.sigma, r.tau_mem, r.dt)[0]
        y = (jnp.exp(-r.dt / jnp.asarray(r.tau_mem)) * carry.readout
             + (spikes.z * kernel) @ model.w_out + model.b_out + r.bias)  # fmt: skip
        return y, y, None
    cell = cells.readout
    values = readout_values(cell, spikes)
    di, dv = values[0] @ model.w_out, values[1] @ model.w_out
    out, _, state = cell_step(cell, carry.readout, dv, di)
    time, fired, sigma, inv_slope, first_step = carry.first
    new = (out.z > 0) & ~fired
    first = (jnp.where(new, k + out.sigma, time), fired | new, jnp.where(new, out.sigma, sigma),
             jnp.where(new, out.inv_slope, inv_slope), jnp.where(new, k, first_step))  # fmt: skip
    return state, None, first


def readout_values(cell: Cell, spikes: Spikes):
    """``[2, B, n]``: hidden spikes' current and potential kernels in the spiking readout."""
    return jnp.stack([spikes.z * cell.k_i(spikes.sigma)[0], spikes.z * cell.k_v(spikes.sigma)[0]])


def simulate(model, x, events: bool = False) -> Trace:
    """Runs the simulation over ``x [T, B, n_in]`` (see :class:`Trace`); ``events``: delayed
    projections scatter only the spikes' rows (not reverse-differentiable)."""
    check_inputs(model, x)
    n_steps, batch = x.shape[:2]
    dtype = jnp.result_type(model.w_out.dtype, float)
    cells = cells_of(model)

    def body(carry, inputs):
        k, x_k = inputs
        return step(model, cells, carry, x_k, k, events=events)

    ks = jnp.arange(n_steps, dtype=jnp.int32)
    carry, (spikes, v_free, y) = jax.lax.scan(body, initial_carry(model, batch, dtype), (ks, x))
    if model.spiking_readout:
        time, fired = carry.first[:2]
        y = jnp.where(fired, time, n_steps) * model.hidden.dt
    return Trace(spikes, v_free, y)
