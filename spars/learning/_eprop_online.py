"""e-prop's gradient computed online, from per-synapse eligibility traces.

The traces of Bellec et al. (2020) (see :mod:`spars.learning.eprop`) live per
synapse: over the weights' slots, or, for sparse synapses with
``max_synapses`` set, in a list of the real synapses gathered once per batch
(traces restart with every trial, so they never move with rewiring and row
headroom costs nothing). Memory and time grow with synapses x batch, never
with ``T``.
"""

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from .._prefix import nonzero_ids
from ..neurons import ALIF
from .recurrent import Metrics, RateRegularisation, RecurrentSNN, trainable
from .synapses import Synapses, gather_post


class ProjectionTraces(NamedTuple):
    """e-prop state of one projection.

    ``layout`` is ``[n_pre, width]`` (``width`` = ``max_row`` or ``n_post``),
    or ``[max_synapses]`` when the synapses set that bound.
    """

    zbar: jax.Array  # [B, n_pre] presynaptic spikes filtered by the membrane decay
    eps_a: jax.Array  # [B, *layout] adaptation eligibility (ALIF; else a scalar 0)
    ebar: jax.Array  # [B, *layout] eligibility filtered by the readout decay
    grad: jax.Array  # [*layout] accumulated gradient


class ReadoutTraces(NamedTuple):
    zbar: jax.Array  # [B, n_rec] hidden spikes filtered by the readout decay
    ones: jax.Array  # [] the bias's filtered input (sum of kappa^k)
    grad_w: jax.Array  # [n_rec, n_out]
    grad_b: jax.Array  # [n_out]


def online_grads(model: RecurrentSNN, x, labels, reg: RateRegularisation, feedback):
    """:func:`~spars.learning.eprop_grads` with ``online=True``: per-synapse traces."""
    n_steps, batch = x.shape[:2]
    layouts = (_layout(model.w_in), _layout(model.w_rec))
    traces = _init_traces(model, layouts, batch)
    carry = (model.init(batch), jnp.zeros((batch, model.hidden.n)), traces)
    totals = (jnp.zeros(()), jnp.zeros((batch, model.readout.n)), jnp.zeros(()))
    step = _step_fn(model, layouts, labels, reg, feedback, n_steps * batch)
    (_, _, traces), (loss, y_sum, spikes) = jax.lax.scan(step, (carry, totals), x)[0]
    grads = eqx.tree_at(
        lambda m: (m.w_in.weight, m.w_rec.weight, m.w_out, m.b_out),
        model,
        (
            layouts[0].to_weights(traces[0].grad),
            layouts[1].to_weights(traces[1].grad),
            traces[2].grad_w,
            traces[2].grad_b,
        ),
    )
    rate = spikes / (n_steps * batch * model.hidden.n) * 1e3 / model.hidden.dt
    correct = jnp.sum(jnp.argmax(y_sum, -1) == labels)
    return eqx.filter(grads, trainable(model)), Metrics(loss, correct, rate)


def _step_fn(model, layouts, labels, reg, feedback, norm):
    hidden, readout = model.hidden, model.readout
    decays = _decays(hidden, readout)
    lam = jnp.exp(-hidden.dt / jnp.asarray(reg.tau_reg))
    f_target = reg.f_target * hidden.dt * 1e-3
    feedback = model.w_out if feedback is None else feedback
    onehot = jax.nn.one_hot(labels, readout.n)

    def step(state, x):
        ((h, y, z_prev, buffers), f, (t_in, t_rec, t_out)), (loss, y_sum, spikes) = state
        drive, buffers = model.drive(x, z_prev, buffers)
        z, psi, h = hidden.step_with_derivative(h, drive)
        y, _ = readout.step(y, z @ model.w_out + model.b_out)
        error = (jax.nn.softmax(y) - onehot) / norm  # d loss / d y_t
        f = lam * f + (1 - lam) * z
        excess = reg.c_reg * (f - f_target) / norm
        signals = (psi, error @ feedback.T, excess, decays)
        t_in = _update(t_in, layouts[0], x, *signals)
        t_rec = _update(t_rec, layouts[1], z_prev, *signals)
        t_out = _update_readout(t_out, z, error, decays.kappa)
        ce = -jnp.sum(onehot * jax.nn.log_softmax(y)) / norm
        loss = loss + ce + jnp.sum(excess * z)
        carry = ((h, y, z, buffers), f, (t_in, t_rec, t_out))
        return (carry, (loss, y_sum + y, spikes + z.sum())), None

    return step


class Decays(NamedTuple):
    """Per-step factors of the traces (``rho``, ``beta`` only for ALIF)."""

    alpha: jax.Array  # membrane
    kappa: jax.Array  # readout
    rho: jax.Array | None = None  # adaptation
    beta: float | None = None  # threshold per unit of adaptation [mV]


def _decays(hidden, readout) -> Decays:
    def decay(tau, dt):
        return jnp.exp(-dt / jnp.asarray(tau))

    alpha, kappa = decay(hidden.tau_mem, hidden.dt), decay(readout.tau_mem, readout.dt)
    if isinstance(hidden, ALIF):
        return Decays(alpha, kappa, decay(hidden.tau_adapt, hidden.dt), hidden.beta)
    return Decays(alpha, kappa)


def _update(tr: ProjectionTraces, layout, pre, psi, signal, excess, d: Decays):
    """One step of a projection's traces and gradient."""
    zbar = d.alpha * tr.zbar + pre
    psi_s, zbar_s = layout.post(psi), layout.pre(zbar)
    if d.rho is None:
        e, eps_a = psi_s * zbar_s, tr.eps_a
    else:
        e = psi_s * (zbar_s - d.beta * tr.eps_a)
        eps_a = psi_s * zbar_s + (d.rho - psi_s * d.beta) * tr.eps_a
    ebar = d.kappa * tr.ebar + e
    grad = tr.grad + jnp.sum(layout.post(signal) * ebar + layout.post(excess) * e, 0)
    return ProjectionTraces(zbar, eps_a, ebar, grad)


class SlotLayout(NamedTuple):
    """Traces over every slot of the weights (``[B, n_pre, width]``)."""

    syn: Synapses

    @property
    def shape(self):
        return self.syn.weight.shape

    def pre(self, v):
        return v[..., None]

    def post(self, v):
        return self.syn.at_synapses(v)

    def to_weights(self, grad):
        return grad


class ListLayout(NamedTuple):
    """Traces over a list of the real synapses (``[B, max_synapses]``)."""

    slot: jax.Array  # [S] flat slot of each listed synapse; n_pre * max_row past the end
    pre_id: jax.Array  # [S]
    post_id: jax.Array  # [S]; n_post past the end
    weight_shape: tuple  # [n_pre, max_row]

    @property
    def shape(self):
        return self.slot.shape

    def pre(self, v):
        return v[..., self.pre_id]

    def post(self, v):
        return gather_post(v, self.post_id)

    def to_weights(self, grad):
        flat = jnp.zeros(math.prod(self.weight_shape), grad.dtype)
        return flat.at[self.slot].set(grad, mode="drop").reshape(self.weight_shape)


def _layout(syn: Synapses):
    if getattr(syn, "max_synapses", None) is None:
        return SlotLayout(syn)
    conn, size = syn.conn, syn.max_synapses
    slot, count = nonzero_ids(conn.mask, size)
    slot = eqx.error_if(slot, count > size, "more real synapses than max_synapses; raise it")
    post = conn.indices.reshape(-1).at[slot].get(mode="fill", fill_value=conn.n_post)
    pre = jnp.minimum(slot // conn.max_row, conn.n_pre - 1)
    return ListLayout(slot, pre, post, conn.indices.shape)


def _update_readout(tr: ReadoutTraces, z, error, kappa):
    zbar, ones = kappa * tr.zbar + z, kappa * tr.ones + 1.0
    return ReadoutTraces(zbar, ones, tr.grad_w + zbar.T @ error, tr.grad_b + ones * error.sum(0))


def _init_traces(model: RecurrentSNN, layouts, batch: int):
    def projection(syn: Synapses, layout):
        zeros = jnp.zeros((batch, *layout.shape), syn.weight.dtype)
        eps_a = zeros if isinstance(model.hidden, ALIF) else jnp.zeros(())
        return ProjectionTraces(jnp.zeros((batch, syn.shape[0])), eps_a, zeros, zeros[0])

    n_rec, n_out = model.w_out.shape
    readout = ReadoutTraces(
        jnp.zeros((batch, n_rec)), jnp.zeros(()), jnp.zeros((n_rec, n_out)), jnp.zeros(n_out)
    )
    return projection(model.w_in, layouts[0]), projection(model.w_rec, layouts[1]), readout
