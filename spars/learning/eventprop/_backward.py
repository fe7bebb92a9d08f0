"""EventProp's backward pass: the adjoint run in reverse time with jumps at the spikes.

Between spikes the adjoint of every neuron evolves linearly (the transpose
of the exact step propagators); at a spike it jumps by ``dL/dsigma`` times
the crossing's dependence on the potentials (``_step.cell_adjoint``).
``dL/dsigma`` of a spike is gathered from the adjoints at its synapses'
arrivals (and the readout's), so the synaptic work follows the spikes: a
spike of step ``k - 1`` pulls from its row at step ``k``, or, delayed, from
a ring of the last ``max_delay`` steps' adjoints, and adds its row of weight
(and delay) gradients. State per step: ``B x n`` adjoints, the spikes of two
steps, the ring; the forward pass's record supplies the spikes.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ...kernels._events import Events, chunk_loop
from . import _record as R
from . import _synapses as S
from ._cells import k_leaky
from ._simulate import readout_values
from ._step import CellState, Spikes, cell_adjoint


class Grads(NamedTuple):
    w_in: jax.Array
    d_in: jax.Array | None  # float delays of w_in
    w_rec: jax.Array | None
    d_rec: jax.Array | None
    w_out: jax.Array
    b_out: jax.Array


class Adjoint(NamedTuple):
    hidden: CellState  # dL/d hidden state after the step
    readout: CellState | jax.Array  # spiking: dL/d state after the step; integrator: mu_{k+1}
    ring: jax.Array | None  # [B, D * 2 n]: dL/d arrivals of the steps ahead, by ring slot
    g_sigma: jax.Array  # [B, n] dL/dsigma of this step's spikes through their synapses
    spikes: Spikes  # this step's hidden spikes, [B, n] each


def backward(model, cells, x, fwd, d_readout, reg_grad, floor_grad) -> Grads:
    """Gradients of the loss whose cotangent w.r.t. the readout output is ``d_readout``.

    Args:
        model: the network; cells: its ``Cells``; x: ``[T, B, n_in]`` inputs.
        fwd: the ``Forward`` record. d_readout: ``[T, B, n_out]`` or ``[B, n_out]``.
        reg_grad: ``[n]`` the regulariser's ``dL/dv_free`` at each spike of a neuron.
        floor_grad: ``[n]`` the activity floor's ``dL/dv_free`` at every step.
    """
    n_steps, batch = x.shape[:2]
    n = model.hidden.n
    size, chunk = R.window(batch, n)
    capacity = fwd.record.ids.shape[0] - size
    counts = jnp.concatenate([jnp.zeros(1, jnp.int32), fwd.counts])
    starts = jnp.minimum(jnp.cumsum(counts) - counts, capacity)  # index j + 1: step j

    def read(j_plus_1):
        ids, sigma, inv_slope = R.read(fwd.record, starts[j_plus_1], counts[j_plus_1], size,
                                       batch * n)  # fmt: skip
        z = R.dense(ids, jnp.ones_like(sigma), batch * n)
        dense = [a.reshape(batch, n) for a in (z, R.dense(ids, sigma, batch * n),
                                               R.dense(ids, inv_slope, batch * n))]  # fmt: skip
        return Spikes(*dense), (ids, counts[j_plus_1])

    def body(state, inputs):
        adj, grads = state
        k, x_k, dy_k = inputs
        prev, listed = read(k)
        adj, grads, g_out = _readout(model, cells, fwd.first, d_readout, adj, grads, k, dy_k)
        g_free = adj.spikes.z * reg_grad + floor_grad
        lam, lam_free = cell_adjoint(cells.hidden, adj.hidden, adj.spikes,
                                     adj.g_sigma + g_out, g_free)  # fmt: skip
        cot = (adj.hidden.i, lam_free)
        grads, g_prev, ring = _arrivals(model, cells.hidden, grads, adj.ring, k, x_k, prev,
                                        listed, cot, chunk)  # fmt: skip
        return (Adjoint(lam, adj.readout, ring, g_prev, prev), grads), None

    last, _ = read(n_steps)
    init = (_initial_adjoint(model, batch, last), _zero_grads(model))
    ks = jnp.arange(n_steps, dtype=jnp.int32)
    dy = d_readout if d_readout.ndim == 3 else jnp.zeros((n_steps, 0))
    (_, grads), _ = lax.scan(body, init, (ks, x, dy), reverse=True)
    return grads


def _readout(model, cells, first, d_first, adj: Adjoint, grads: Grads, k, dy_k):
    """Adjoint of the readout at step ``k``: ``(adj, grads, dL/dsigma of the hidden spikes)``.

    ``first``/``d_first``: a spiking readout's first spikes and ``dL/d time [ms]`` of each.
    """
    spikes = adj.spikes
    if not model.spiking_readout:
        r = model.readout
        mu = dy_k + jnp.exp(-r.dt / jnp.asarray(r.tau_mem)) * adj.readout
        kernel, d_kernel = k_leaky(spikes.sigma, r.tau_mem, r.dt)
        grads = grads._replace(w_out=grads.w_out + jnp.einsum("bj,bo->jo", spikes.z * kernel, mu),
                               b_out=grads.b_out + mu.sum(0))  # fmt: skip
        return adj._replace(readout=mu), grads, spikes.z * d_kernel * (mu @ model.w_out.T)
    cell = cells.readout
    _, fired, sigma, inv_slope, first_step = first
    here = (fired & (first_step == k)).astype(sigma.dtype)
    firsts = Spikes(here, sigma, inv_slope)
    lam, lam_free = cell_adjoint(cell, adj.readout, firsts, here * d_first * model.hidden.dt)
    cot = jnp.stack([adj.readout.i, lam_free])
    values = readout_values(cell, spikes)
    d_w = jnp.einsum("cbj,cbo->jo", values, cot)
    grads = grads._replace(w_out=grads.w_out + d_w,
                           b_out=grads.b_out + cell.p20 * lam_free.sum(0))  # fmt: skip
    back = cot @ model.w_out.T
    g = spikes.z * (back[0] * cell.k_i(spikes.sigma)[1] + back[1] * cell.k_v(spikes.sigma)[1])
    return adj._replace(readout=lam), grads, g


def _arrivals(model, cell, grads: Grads, ring, k, x_k, prev: Spikes, listed, cot, chunk):
    """Cotangents of step ``k``'s arrivals into weight/delay gradients and ``dL/dsigma``.

    The arrivals of step ``k`` come from its inputs and the hidden spikes of
    step ``k - 1`` (``prev``; listed in ``listed``); delayed ones from a ring
    of the adjoints of the steps ahead, the others from this step's alone.
    """
    x_k = x_k.astype(cot[0].dtype)
    here = jnp.concatenate(cot, -1)  # [B, 2 n]: a ring of this one step
    flat = None
    if ring is not None:
        now = k % model.max_delay
        slots = ring.reshape(ring.shape[0], model.max_delay, -1)
        flat = lax.dynamic_update_index_in_dim(slots, here, now, 1).reshape(-1)
    inputs = Events.of(x_k)
    sources = (
        ("w_in", model.w_in, jnp.zeros_like(x_k), x_k, (inputs.ids, inputs.count, inputs.capacity)),
        ("w_rec", model.w_rec, prev.sigma - 1.0, prev.z, (*listed, chunk)),
    )
    g_prev = jnp.zeros_like(cot[0])
    for name, syn, phi, s, events in sources:
        if syn is None:
            continue
        delayed = S.is_delayed(syn)
        lam, now = (flat, k % model.max_delay) if delayed else (here.reshape(-1), 0)
        d_phi = g_prev if name == "w_rec" else jnp.zeros_like(s)
        delay_grad = grads.d_in if name == "w_in" else grads.d_rec
        acc = (getattr(grads, name), delay_grad if delayed else None, d_phi)
        d_w, d_d, d_phi = _pull(S.rows_of(syn), cell, lam, now, phi, s, events, acc)
        grads = grads._replace(**{name: d_w})
        if delayed:
            grads = grads._replace(**{"d_in" if name == "w_in" else "d_rec": d_d})
        if name == "w_rec":
            g_prev = d_phi
    return grads, g_prev, None if flat is None else flat.reshape(ring.shape)


def _pull(rows, cell, lam_flat, now, phi, s, listed, acc):
    ids, count, capacity = listed

    def body(b, i, valid, acc):
        return S.pull_events(rows, cell, lam_flat, now, phi, s, (b, i, valid), acc)

    return chunk_loop(ids, count, capacity, s.shape[1], body, acc)


def _initial_adjoint(model, batch: int, last: Spikes) -> Adjoint:
    zeros = jnp.zeros_like(last.sigma)
    out = jnp.zeros((batch, model.readout.n), zeros.dtype)
    readout = CellState(out, out) if model.spiking_readout else out
    ring = None
    if model.max_delay:
        ring = jnp.zeros((batch, model.max_delay * 2 * model.hidden.n), zeros.dtype)
    return Adjoint(CellState(zeros, zeros), readout, ring, zeros, last)


def _zero_grads(model) -> Grads:
    def delay(syn):
        d = getattr(syn, "delay", None)
        floating = d is not None and jnp.issubdtype(jnp.result_type(d), jnp.floating)
        return jnp.zeros_like(syn.weight) if floating else None

    rec = model.w_rec
    return Grads(jnp.zeros_like(model.w_in.weight), delay(model.w_in),
                 None if rec is None else jnp.zeros_like(rec.weight), delay(rec),
                 jnp.zeros_like(model.w_out), jnp.zeros_like(model.b_out))  # fmt: skip
