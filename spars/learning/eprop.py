"""e-prop (Bellec et al. 2020) for recurrent LIF / ALIF classifiers.

e-prop replaces backpropagation through time by a product, at every step,
of a *learning signal* ``L_j^t`` (the readout error sent back to hidden
neuron ``j``) and an *eligibility trace* ``e_ji^t`` (how synapse ``i -> j``
has influenced ``j`` so far, with the reset's derivative stopped):

    LIF:   e_ji^t = psi_j^t zbar_i^t,   zbar_i^t = alpha zbar_i^{t-1} + pre_i^t
    ALIF:  e_ji^t = psi_j^t (zbar_i^t - beta eps_ji^{t-1}),
           eps_ji^t = psi_j^t zbar_i^t + (rho - psi_j^t beta) eps_ji^{t-1}

with ``psi`` the surrogate derivative. The gradient is ``sum_t L_j^t
ebar_ji^t + c_reg (f_j^t - f_target) e_ji^t`` with ``ebar`` the eligibility
filtered by the readout's decay ``kappa``.

These traces are exactly the derivatives ``dz_j^t / dW_ji`` through neuron
``j``'s own state (membrane and adaptation) with the reset detached, and
``sum_{t' >= t} kappa^(t' - t) L_j^t'`` is exactly ``dE / dz_j^t`` through
the readout. So e-prop's gradient is the gradient of the same loss in a
network whose recurrent spikes are cut from the backward pass
(``stop_gradient(z_{t-1})`` in ``W_rec z_{t-1}``) and whose readout sends
errors back through ``feedback`` instead of ``W_out``. By default
:func:`eprop_grads` computes it that way, by reverse-mode autodiff through
``spars.propagate``: the weight gradient is an event-driven gather over the
spikes, memory grows with ``T x batch x neurons``. With ``online=True`` it
runs the traces forward instead (:mod:`spars.learning._eprop_online`):
memory independent of ``T``, time and memory ``synapses x batch`` per step.
Both give the same numbers up to float rounding.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._eprop_online import online_grads
from .recurrent import (
    NO_REGULARISATION,
    RateRegularisation,
    RecurrentSNN,
    check_inputs,
    loss_terms,
    metrics,
    per_step_cross_entropy,
    trainable,
)


def eprop_grads(
    model: RecurrentSNN,
    x,
    labels,
    reg: RateRegularisation = NO_REGULARISATION,
    feedback=None,
    *,
    loss=per_step_cross_entropy,
    online: bool = False,
):
    """e-prop weight gradients of the classifier loss over one batch of trials.

    Args:
        model: the network; ``hidden`` must reset by subtraction and have no
            refractory period (the traces above assume both). Its reset's
            derivative is dropped whatever ``detach_reset`` says.
        x: ``[T, B, n_in]`` input spikes.
        labels: ``int[B]`` classes.
        reg: the firing-rate regulariser (online form, see
            :class:`~spars.learning.RateRegularisation`).
        feedback: ``[n_rec, n_out]`` fixed random feedback weights (random
            e-prop), or None for symmetric feedback through ``w_out``.
        loss: ``(y [T, B, n_out], labels) -> scalar`` (see :func:`bptt_grads`);
            its error at each step is e-prop's learning signal. ``online``
            needs :func:`~spars.learning.per_step_cross_entropy`, whose error
            is known at the step itself.
        online: run per-synapse eligibility traces forward in time (memory
            independent of ``T``) instead of differentiating the cut network
            (memory ``T x B x neurons``, time that follows the spikes).

    Returns:
        ``(grads, Metrics)`` with ``grads`` shaped like :func:`bptt_grads`'s.
    """
    check_inputs(model, x, labels)
    _check_neurons(model)
    if feedback is not None and feedback.shape != model.w_out.shape:
        raise ValueError(f"feedback shape {feedback.shape} must equal w_out's {model.w_out.shape}")
    if online:
        if model.has_delays:
            raise ValueError("online e-prop has no delays; use online=False (autodiff of the "
                             "cut network, which follows the delayed spikes)")  # fmt: skip
        if loss is not per_step_cross_entropy:
            raise ValueError("online e-prop learns from per_step_cross_entropy only")
        return online_grads(model, x, labels, reg, feedback)
    params, static = eqx.partition(model, trainable(model))

    def total(params):
        m = eqx.combine(params, static)
        z, y = local_run(m, x, feedback)
        ce, penalty = loss_terms(z, y, labels, reg, m.hidden.dt, loss)
        return ce + penalty, (z, y)

    (value, (z, y)), grads = eqx.filter_value_and_grad(total, has_aux=True)(params)
    return grads, metrics(z, y, labels, value, model.hidden.dt)


def local_run(model: RecurrentSNN, x, feedback=None):
    """``model.run(x)`` whose backward pass is e-prop's: ``(z [T, B, n_rec], y [T, B, n_out])``.

    The forward pass is unchanged; backward, recurrent spikes carry no
    gradient, the reset is detached and readout errors reach the hidden
    neurons through ``feedback`` (None: ``w_out``).
    """
    hidden = dataclasses.replace(model.hidden, detach_reset=True)

    def step(carry, x_t):
        h, y, z_prev, buffers = carry
        drive, buffers = model.drive(x_t, jax.lax.stop_gradient(z_prev), buffers)
        z, h = hidden.step(h, drive)
        y, _ = model.readout.step(y, _readout_input(z, model.w_out, feedback) + model.b_out)
        return (h, y, z, buffers), (z, y)

    _, (z, y) = jax.lax.scan(step, model.init(x.shape[1]), x)
    return z, y


def _readout_input(z, w_out, feedback):
    return z @ w_out if feedback is None else _through_feedback(z, w_out, feedback)


@jax.custom_vjp
def _through_feedback(z, w_out, feedback):
    """``z @ w_out``, whose gradient w.r.t. ``z`` goes through ``feedback`` instead."""
    return z @ w_out


def _through_feedback_fwd(z, w_out, feedback):
    return z @ w_out, (z, feedback)


def _through_feedback_bwd(residuals, g):
    z, feedback = residuals
    return g @ feedback.T, z.T @ g, jnp.zeros_like(feedback)


_through_feedback.defvjp(_through_feedback_fwd, _through_feedback_bwd)


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
