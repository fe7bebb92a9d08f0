"""Losses of the EventProp literature and its firing-rate regulariser.

Readout potentials ``y [T, B, n_out]`` (a ``LeakyIntegrator`` readout):
:func:`summed_cross_entropy` (of the time-integrated potential: the ``sum``
loss of Nowotny, Turner & Knight's "Loss shaping" study),
:func:`max_cross_entropy` (of each neuron's maximum over the steps, Wunderlich
& Pehle 2021's), and the library's ``mean_cross_entropy`` (``sum`` scaled by
``1 / T``). First spike times
``t [B, n_out]`` [ms] (a spiking readout): :class:`FirstSpikeLoss`.
"""

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from ..recurrent import checked_labels


def summed_cross_entropy(y: Float[Array, "T B out"], labels: Int[Array, " B"]):
    """Cross-entropy of ``softmax(sum_t y_t)`` (the potential integrated over the trial / dt)."""
    labels = checked_labels(labels, y.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(y.sum(0), labels).mean()


def max_cross_entropy(y: Float[Array, "T B out"], labels: Int[Array, " B"]):
    """Cross-entropy of ``softmax(max_t y_t)``: each readout neuron's peak over the steps."""
    labels = checked_labels(labels, y.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(y.max(0), labels).mean()


class FirstSpikeLoss(eqx.Module):
    """Time-to-first-spike loss (the form of Wunderlich & Pehle 2021), mean over the batch:

    ``-log softmax(-t / tau0)[label] + alpha (exp(t[label] / tau1) - 1)``

    with ``t [B, n_out]`` each readout neuron's first spike time [ms] (the
    trial's end for a neuron that stays silent, which has no gradient): the
    right neuron should fire first, and early.

    Attributes:
        tau0: softmax temperature [ms].
        tau1: time scale of the early-spike term [ms].
        alpha: weight of the early-spike term.
    """

    tau0: float = 2.0
    tau1: float = 10.0
    alpha: float = 3e-3

    def __call__(self, t: Float[Array, "B out"], labels: Int[Array, " B"]):
        labels = checked_labels(labels, t.shape[-1])
        ce = optax.softmax_cross_entropy_with_integer_labels(-t / self.tau0, labels)
        t_true = jnp.take_along_axis(t, labels[:, None], -1)[:, 0]
        return (ce + self.alpha * jnp.expm1(t_true / self.tau1)).mean()


def rate_regulariser(per_neuron, reg, n_steps: int, dt: float):
    """``(value, dL/dv_free per spike [n])`` of the spike-count regulariser.

    ``value = c_reg / 2 sum_j (mean_b n_bj - nu)^2`` with ``nu = f_target T dt``
    the target count per trial. Its exact gradient is 0 (counts are piecewise
    constant); as mlGeNN does, each spike of neuron ``j`` instead adds
    ``c_reg (mean_b n_bj - nu) / B`` to the adjoint of its potential at the
    step's end, which lowers the potentials of neurons that fire too much,
    where they fire (the gradient of ``c_reg sum_spikes stop_grad(mean_b n_bj
    - nu) / B * v_free``). ``reg.tau_reg`` is not used.
    """
    nu = spikes_per_trial(reg.f_target, n_steps, dt)
    excess = per_neuron.mean(0) - nu
    value = 0.5 * reg.c_reg * jnp.sum(excess**2)
    return value, reg.c_reg * excess / per_neuron.shape[0]


class ActivityFloor(NamedTuple):
    """Raises the potential of hidden neurons that fire below ``f_min``, at every step.

    A neuron that never fires gets no EventProp gradient on its input
    synapses (nothing in the loss depends on them), and a rewiring rule's
    L1 term then only shrinks them. This term gives it one: the loss

    ``c * sum_j d_j mean_{b,k} (theta - v_free_bjk)``,
    ``d_j = max(0, 1 - mean_b n_bj / nu_min)``, ``nu_min = f_min T dt``,

    the mean distance below threshold of each neuron, weighted by its
    deficit of spikes (``d_j`` is piecewise constant in the parameters, so
    ``dL/dv_free = -c d_j / (B T)`` at every step is its exact gradient
    wherever it is differentiable). Neurons at or above ``f_min`` [Hz] feel
    nothing.

    Attributes:
        c: strength [per mV]; 0 switches the term off.
        f_min: the rate [Hz] below which a neuron is pushed up.
    """

    c: float = 0.0
    f_min: float = 5.0


NO_FLOOR = ActivityFloor()


def activity_floor(per_neuron, v_free_sum, floor: ActivityFloor, n_steps: int, dt: float, theta):
    """``(value, dL/dv_free [n] at every step)`` of :class:`ActivityFloor`.

    ``per_neuron [B, n]``: spike counts; ``v_free_sum [B, n]``: the free
    potentials [mV] summed over the steps; ``theta`` [mV]: the threshold.
    """
    if isinstance(floor.f_min, (int, float)) and not floor.f_min > 0:
        raise ValueError(f"ActivityFloor.f_min must be > 0 Hz, got {floor.f_min}")
    nu_min = spikes_per_trial(floor.f_min, n_steps, dt)
    deficit = jnp.maximum(0.0, 1.0 - per_neuron.mean(0) / nu_min)
    distance = theta - v_free_sum.mean(0) / n_steps
    value = floor.c * jnp.sum(deficit * distance)
    return value, -floor.c * deficit / (per_neuron.shape[0] * n_steps)


def spikes_per_trial(rate, n_steps: int, dt: float):
    """Spikes of a neuron firing at ``rate`` [Hz] over ``n_steps`` steps of ``dt`` [ms]."""
    return rate * n_steps * dt * 1e-3
