"""Backpropagation through time: ``jax.grad`` through ``lax.scan`` and ``spars.propagate``."""

import equinox as eqx

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


def bptt_grads(
    model: RecurrentSNN,
    x,
    labels,
    reg: RateRegularisation = NO_REGULARISATION,
    *,
    loss=per_step_cross_entropy,
):
    """Exact gradients of the classifier loss (surrogate spikes) by BPTT.

    Args:
        model: the network.
        x: ``[T, B, n_in]`` input spikes.
        labels: ``int[B]`` classes.
        reg: the firing-rate regulariser.
        loss: ``(y [T, B, n_out], labels) -> scalar``, e.g.
            :func:`~spars.learning.per_step_cross_entropy` or
            :func:`~spars.learning.mean_cross_entropy`.

    Returns:
        ``(grads, Metrics)``; ``grads`` has ``model``'s structure, with arrays
        at the trained leaves (``trainable``) and None elsewhere. Sparse
        weight gradients are 0 on padding slots. Memory grows with ``T``.
    """
    check_inputs(model, x, labels)
    params, static = eqx.partition(model, trainable(model))

    def total(params):
        m = eqx.combine(params, static)
        z, y = m.run(x)
        ce, penalty = loss_terms(z, y, labels, reg, m.hidden.dt, loss)
        return ce + penalty, (z, y)

    (value, (z, y)), grads = eqx.filter_value_and_grad(total, has_aux=True)(params)
    return grads, metrics(z, y, labels, value, model.hidden.dt)
