"""Online e-prop (Bellec et al. 2020) for recurrent LIF / ALIF classifiers.

e-prop replaces backpropagation through time by a product, at every step,
of a *learning signal* ``L_j^t`` (the readout error sent back to hidden
neuron ``j``) and an *eligibility trace* ``e_ji^t`` (how synapse ``i -> j``
has influenced ``j`` so far, with the reset's derivative stopped):

    LIF:   e_ji^t = psi_j^t zbar_i^t,   zbar_i^t = alpha zbar_i^{t-1} + pre_i^t
    ALIF:  e_ji^t = psi_j^t (zbar_i^t - beta eps_ji^{t-1}),
           eps_ji^t = psi_j^t zbar_i^t + (rho - psi_j^t beta) eps_ji^{t-1}

with ``psi`` the surrogate derivative. The gradient is ``sum_t L_j^t
ebar_ji^t`` with ``ebar`` the eligibility filtered by the readout's decay
``kappa``. Traces live per synapse in the weights' own layout (padded rows
for sparse projections), so memory and time grow with synapses x batch,
never with ``T`` or ``n^2``. Without recurrent synapses the result equals
BPTT's gradient with the reset's derivative stopped.
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..neurons import ALIF
from .recurrent import (
    NO_REGULARISATION,
    Metrics,
    RateRegularisation,
    RecurrentSNN,
    check_inputs,
    trainable,
)
from .synapses import Synapses


class ProjectionTraces(NamedTuple):
    """e-prop state of one projection (``width`` = ``max_row`` or ``n_post``)."""

    zbar: jax.Array  # [B, n_pre] presynaptic spikes filtered by the membrane decay
    eps_a: jax.Array  # [B, n_pre, width] adaptation eligibility (ALIF; else [B, n_pre, 1])
    ebar: jax.Array  # [B, n_pre, width] eligibility filtered by the readout decay
    grad: jax.Array  # [n_pre, width] accumulated gradient


class ReadoutTraces(NamedTuple):
    zbar: jax.Array  # [B, n_rec] hidden spikes filtered by the readout decay
    ones: jax.Array  # [] the bias's filtered input (sum of kappa^k)
    grad_w: jax.Array  # [n_rec, n_out]
    grad_b: jax.Array  # [n_out]


def eprop_grads(
    model: RecurrentSNN,
    x,
    labels,
    reg: RateRegularisation = NO_REGULARISATION,
    feedback=None,
):
    """e-prop weight gradients of the classifier loss over one batch of trials.

    Args:
        model: the network; ``hidden`` must reset by subtraction and have no
            refractory period (the traces above assume both).
        x: ``[T, B, n_in]`` input spikes.
        labels: ``int[B]`` classes.
        reg: the firing-rate regulariser (online form, see
            :class:`~spars.learning.RateRegularisation`).
        feedback: ``[n_rec, n_out]`` fixed random feedback weights (random
            e-prop), or None for symmetric feedback through ``w_out``.

    Returns:
        ``(grads, Metrics)`` with ``grads`` shaped like :func:`bptt_grads`'s.
    """
    check_inputs(model, x, labels)
    _check_neurons(model)
    if feedback is not None and feedback.shape != model.w_out.shape:
        raise ValueError(f"feedback shape {feedback.shape} must equal w_out's {model.w_out.shape}")
    n_steps, batch = x.shape[:2]
    carry = (model.init(batch), jnp.zeros((batch, model.hidden.n)), _init_traces(model, batch))
    totals = (jnp.zeros(()), jnp.zeros((batch, model.readout.n)), jnp.zeros(()))
    step = _step_fn(model, labels, reg, feedback, n_steps * batch)
    (_, _, traces), (loss, y_sum, spikes) = jax.lax.scan(step, (carry, totals), x)[0]
    grads = eqx.tree_at(
        lambda m: (m.w_in.weight, m.w_rec.weight, m.w_out, m.b_out),
        model,
        (traces[0].grad, traces[1].grad, traces[2].grad_w, traces[2].grad_b),
    )
    rate = spikes / (n_steps * batch * model.hidden.n) * 1e3 / model.hidden.dt
    correct = jnp.sum(jnp.argmax(y_sum, -1) == labels)
    return eqx.filter(grads, trainable(model)), Metrics(loss, correct, rate)


def _step_fn(model, labels, reg, feedback, norm):
    hidden, readout = model.hidden, model.readout
    kappa = jnp.exp(-readout.dt / jnp.asarray(readout.tau_mem))
    lam = jnp.exp(-hidden.dt / jnp.asarray(reg.tau_reg))
    f_target = reg.f_target * hidden.dt * 1e-3
    feedback = model.w_out if feedback is None else feedback
    onehot = jax.nn.one_hot(labels, readout.n)

    def step(state, x):
        ((h, y, z_prev), f, (t_in, t_rec, t_out)), (loss, y_sum, spikes) = state
        drive = model.drive(x, z_prev)
        psi = hidden.pseudo_derivative(h, drive)
        z, h = hidden.step(h, drive)
        y, _ = readout.step(y, z @ model.w_out + model.b_out)
        error = (jax.nn.softmax(y) - onehot) / norm  # d loss / d y_t
        f = lam * f + (1 - lam) * z
        excess = reg.c_reg * (f - f_target) / norm
        signals = (psi, error @ feedback.T, excess, kappa)
        t_in = _update(t_in, model.w_in, x, hidden, *signals)
        t_rec = _update(t_rec, model.w_rec, z_prev, hidden, *signals)
        t_out = _update_readout(t_out, z, error, kappa)
        ce = -jnp.sum(onehot * jax.nn.log_softmax(y)) / norm
        loss = loss + ce + jnp.sum(excess * z)
        carry = ((h, y, z), f, (t_in, t_rec, t_out))
        return (carry, (loss, y_sum + y, spikes + z.sum())), None

    return step


def _update(tr: ProjectionTraces, syn: Synapses, pre, hidden, psi, signal, excess, kappa):
    """One step of a projection's traces and gradient."""
    alpha = jnp.exp(-hidden.dt / jnp.asarray(hidden.tau_mem))
    zbar = alpha * tr.zbar + pre
    psi_s = syn.at_synapses(psi)
    if isinstance(hidden, ALIF):
        rho = jnp.exp(-hidden.dt / jnp.asarray(hidden.tau_adapt))
        e = psi_s * (zbar[..., None] - hidden.beta * tr.eps_a)
        eps_a = psi_s * zbar[..., None] + (rho - psi_s * hidden.beta) * tr.eps_a
    else:
        e, eps_a = psi_s * zbar[..., None], tr.eps_a
    ebar = kappa * tr.ebar + e
    grad = tr.grad + jnp.sum(syn.at_synapses(signal) * ebar + syn.at_synapses(excess) * e, 0)
    return ProjectionTraces(zbar, eps_a, ebar, grad)


def _update_readout(tr: ReadoutTraces, z, error, kappa):
    zbar, ones = kappa * tr.zbar + z, kappa * tr.ones + 1.0
    return ReadoutTraces(zbar, ones, tr.grad_w + zbar.T @ error, tr.grad_b + ones * error.sum(0))


def _init_traces(model: RecurrentSNN, batch: int):
    def projection(syn: Synapses):
        n_pre, _ = syn.shape
        width = syn.weight.shape[1]
        eps_width = width if isinstance(model.hidden, ALIF) else 1
        zeros = jnp.zeros((batch, n_pre, width), syn.weight.dtype)
        eps_a = jnp.zeros((batch, n_pre, eps_width), syn.weight.dtype)
        return ProjectionTraces(jnp.zeros((batch, n_pre)), eps_a, zeros, jnp.zeros_like(syn.weight))

    n_rec, n_out = model.w_out.shape
    readout = ReadoutTraces(
        jnp.zeros((batch, n_rec)), jnp.zeros(()), jnp.zeros((n_rec, n_out)), jnp.zeros(n_out)
    )
    return projection(model.w_in), projection(model.w_rec), readout


def _check_neurons(model: RecurrentSNN):
    hidden = model.hidden
    if not hidden.reset_by_subtraction:
        raise ValueError(
            "e-prop's traces assume reset by subtraction: build the hidden layer "
            "with reset_by_subtraction=True"
        )
    refrac = hidden.tau_refrac
    if not isinstance(refrac, jax.core.Tracer) and np.any(np.asarray(refrac) != 0):
        raise ValueError(
            f"e-prop's traces assume no refractory period (tau_refrac=0), got {refrac!r}"
        )
