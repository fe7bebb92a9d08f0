"""``eventprop_grads``: exact gradients of an :class:`EventPropSNN`'s loss, memory ~ spikes."""

import equinox as eqx
import jax
import jax.numpy as jnp

from ..recurrent import (
    NO_REGULARISATION,
    Metrics,
    RateRegularisation,
    check_inputs,
    mean_cross_entropy,
    trainable,
)
from ._backward import backward
from ._forward import forward
from ._losses import NO_FLOOR, ActivityFloor, FirstSpikeLoss, activity_floor, rate_regulariser
from ._network import EventPropSNN
from ._simulate import cells_of

DEFAULT_SPIKE_FRACTION = 0.05  # default record: 5% of neuron-steps (50 Hz at dt = 1 ms)


def eventprop_grads(
    model: EventPropSNN,
    x,
    labels,
    reg: RateRegularisation = NO_REGULARISATION,
    *,
    loss=None,
    max_spikes: int | None = None,
    floor: ActivityFloor = NO_FLOOR,
):
    """EventProp (Wunderlich & Pehle 2021; delays: Meszaros et al. 2025) for an EventPropSNN.

    A forward pass keeps the hidden spikes (neuron, step, in-step time) and
    the readout; a backward pass runs the adjoint in reverse time with jumps
    at the recorded spikes, gathering weight and delay gradients at the
    spikes' synapses only. The gradient is exact for the simulation of
    :meth:`EventPropSNN.run` (equal to ``jax.grad`` through it up to float
    rounding), wherever the loss is differentiable.

    Args:
        model: the network (:class:`EventPropSNN`).
        x: ``[T, B, n_in]`` input spikes (or counts).
        labels: ``int[B]`` classes.
        reg: spike-count regulariser (``c_reg``, ``f_target`` [Hz]; see
            :func:`rate_regulariser` for the gradient it adds).
        loss: ``(readout output, labels) -> scalar``: of the potentials
            ``[T, B, n_out]`` (default ``mean_cross_entropy``; also
            :func:`summed_cross_entropy`, :func:`max_cross_entropy`, any
            differentiable function) or, for a spiking readout, of the first
            spike times ``[B, n_out]`` [ms] (default :class:`FirstSpikeLoss`).
        max_spikes: capacity of the spike record: hidden spikes of the whole
            batch and trial (static). Default 5% of ``T x B x n_rec``. More
            spikes is an error at run time, never a truncated gradient.
        floor: :class:`ActivityFloor`: a gradient for neurons firing below a
            rate (silent neurons get none from the loss); off by default.

    Returns:
        ``(grads, Metrics)``: ``grads`` has ``model``'s structure with arrays
        at the trained leaves (weights, ``w_out``, ``b_out``, float delays)
        and None elsewhere, like :func:`~spars.learning.bptt_grads`.
    """
    if not isinstance(model, EventPropSNN):
        raise ValueError(f"eventprop_grads trains an EventPropSNN (CurrentLIF neurons, spikes "
                         f"placed within steps), got {type(model).__name__}")  # fmt: skip
    check_inputs(model, x, labels)
    n_steps, batch = x.shape[:2]
    capacity = _capacity(max_spikes, n_steps, batch, model.hidden.n)
    loss = loss if loss is not None else default_loss(model)
    fwd = forward(model, x, capacity)
    value, d_readout = jax.value_and_grad(loss)(fwd.readout, labels)
    cells = cells_of(model)
    penalty, reg_grad = rate_regulariser(fwd.per_neuron, reg, n_steps, model.hidden.dt)
    lift, floor_grad = activity_floor(fwd.per_neuron, fwd.v_free_sum, floor, n_steps,
                                      model.hidden.dt, cells.hidden.theta)  # fmt: skip
    raw = backward(model, cells, x, fwd, d_readout, reg_grad, floor_grad)
    grads = _as_model(model, raw)
    overflow = jnp.sum(fwd.counts) > capacity
    grads = eqx.error_if(
        grads,
        overflow,
        f"EventProp's spike record holds max_spikes="
        f"{capacity} hidden spikes and this batch had more: raise max_spikes",
    )
    correct = jnp.sum(model.predict(fwd.readout) == labels)
    rate = fwd.per_neuron.mean() * 1e3 / (n_steps * model.hidden.dt)
    return grads, Metrics(value + penalty + lift, correct, rate)


def default_loss(model: EventPropSNN):
    """:class:`FirstSpikeLoss` for a spiking readout, else ``mean_cross_entropy``."""
    return FirstSpikeLoss() if model.spiking_readout else mean_cross_entropy


def _capacity(max_spikes, n_steps: int, batch: int, n: int) -> int:
    if max_spikes is None:
        return max(1, int(DEFAULT_SPIKE_FRACTION * n_steps * batch * n))
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}")
    return max_spikes


def _as_model(model: EventPropSNN, raw):
    """The gradients in ``model``'s structure (None away from the trained leaves)."""
    params, _ = eqx.partition(model, trainable(model))
    names = [n for n in ("w_in", "w_rec") if getattr(model, n) is not None]
    values = {"w_in": (raw.w_in, raw.d_in), "w_rec": (raw.w_rec, raw.d_rec)}
    leaves, where = [raw.w_out, raw.b_out], [lambda m: m.w_out, lambda m: m.b_out]
    for name in names:
        weight, delay = values[name]
        leaves.append(weight)
        where.append(lambda m, n=name: getattr(m, n).weight)
        if delay is not None:
            leaves.append(delay)
            where.append(lambda m, n=name: getattr(m, n).delay)
    return eqx.tree_at(lambda m: tuple(f(m) for f in where), params, replace=tuple(leaves))
