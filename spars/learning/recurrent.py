"""The recurrent classifier of e-prop and the GeNN structural-plasticity study.

Input spikes -> recurrent (A)LIF layer -> leaky-integrator readout with a
bias. At step ``t`` the hidden layer receives ``W_in x_t + W_rec z_{t-1}``
and the readout ``y_t = kappa y_{t-1} + W_out^T z_t + b``. The loss is a
cross-entropy of the readout (:func:`per_step_cross_entropy`, e-prop's, by
default, or :func:`mean_cross_entropy`) plus the online firing-rate
regulariser of Bellec et al. (2020); the predicted class is the argmax of
the time-averaged readout.
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from .._checks import integer, is_concrete
from ..connectivity import empty
from ..neurons import LIF, LeakyIntegrator
from .synapses import SparseSynapses, Synapses


class RateRegularisation(NamedTuple):
    """Pushes each hidden neuron's running rate towards ``f_target``.

    The running rate ``f_t = lam f_{t-1} + (1 - lam) z_t`` (``lam =
    exp(-dt / tau_reg)``) is compared with the target and the loss is
    ``c_reg * mean_t,b sum_j stop_grad(f_t - f_target) z_t``: its gradient is
    e-prop's regularisation signal ``c_reg (f_t - f_target)`` times
    ``dz_t / dW``.
    """

    c_reg: float = 0.0
    f_target: float = 10.0  # [Hz]
    tau_reg: float = 500.0  # [ms]


NO_REGULARISATION = RateRegularisation()


class RecurrentSNN(eqx.Module):
    """Input -> recurrent ``hidden`` neurons -> ``readout``; weights sparse or dense.

    Attributes:
        w_in: input synapses ``[n_in -> n_rec]``.
        w_rec: recurrent synapses ``[n_rec -> n_rec]``.
        w_out: dense readout weights ``[n_rec, n_out]``.
        b_out: readout bias ``[n_out]`` (added every step).
        hidden: an :class:`~spars.neurons.LIF` or ``ALIF`` population.
        readout: a :class:`~spars.neurons.LeakyIntegrator`.
    """

    w_in: Synapses
    w_rec: Synapses
    w_out: Float[Array, "rec out"]
    b_out: Float[Array, " out"]
    hidden: LIF
    readout: LeakyIntegrator

    def __check_init__(self):
        n_in, n_rec = self.w_in.shape
        if self.w_rec.shape != (n_rec, n_rec) or self.hidden.n != n_rec:
            raise ValueError(
                f"w_rec {self.w_rec.shape} and hidden.n={self.hidden.n} must match "
                f"w_in's {n_rec} targets"
            )
        n_out = self.readout.n
        if self.w_out.shape != (n_rec, n_out) or self.b_out.shape != (n_out,):
            raise ValueError(
                f"w_out {self.w_out.shape} / b_out {self.b_out.shape} must be "
                f"[{n_rec}, {n_out}] / [{n_out}]"
            )

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    def init(self, batch: int):
        """Hidden state, readout potential, last hidden spikes and delay buffers, all at rest."""
        return (
            self.hidden.init(batch_shape=(batch,)),
            self.readout.init(batch_shape=(batch,)),
            jnp.zeros((batch, self.hidden.n)),
            (self.w_in.buffer(batch), self.w_rec.buffer(batch)),
        )

    @property
    def has_delays(self) -> bool:
        return any(getattr(w, "delay", None) is not None for w in (self.w_in, self.w_rec))

    def drive(self, x, z_prev, buffers=(None, None)):
        """``(hidden input [mV], buffers)``: ``W_in x_t + W_rec z_{t-1}`` without delays.

        With delays, ``x_t`` arrives ``d - 1`` steps later and ``z_{t-1}``
        at ``t - 1 + d``; ``buffers`` hold what is in flight.
        """
        from_in, buffer_in = self.w_in.deliver(x, buffers[0])
        from_rec, buffer_rec = self.w_rec.deliver(z_prev, buffers[1])
        return from_in + from_rec, (buffer_in, buffer_rec)

    def step(self, carry, x):
        """One step: ``carry = (hidden, readout v, z_{t-1}, buffers)`` -> ``(carry, (z, y))``."""
        h, y, z_prev, buffers = carry
        drive, buffers = self.drive(x, z_prev, buffers)
        z, h = self.hidden.step(h, drive)
        y, _ = self.readout.step(y, z @ self.w_out + self.b_out)
        return (h, y, z, buffers), (z, y)

    def run(self, x: Float[Array, "T B n_in"]):
        """Hidden spikes ``[T, B, n_rec]`` and readout ``[T, B, n_out]`` for inputs ``x``."""
        check_inputs(self, x)
        _, (z, y) = jax.lax.scan(lambda c, x_t: self.step(c, x_t), self.init(x.shape[1]), x)
        return z, y


def feed_forward_snn(w_in: Synapses, w_out, b_out, hidden: LIF,
                     readout: LeakyIntegrator) -> RecurrentSNN:  # fmt: skip
    """A feed-forward classifier: input -> ``hidden`` -> ``readout``, no recurrent synapses.

    A :class:`RecurrentSNN` whose recurrent projection is empty (capacity 0,
    so it costs nothing), trained by the same rules; e-prop is exact here
    (no recurrent path to drop).

    Args:
        w_in: input synapses ``[n_in -> n_hidden]``, sparse or dense.
        w_out, b_out: dense readout weights ``[n_hidden, n_out]`` and bias ``[n_out]``.
        hidden: an :class:`~spars.neurons.LIF` or ``ALIF`` population.
        readout: a :class:`~spars.neurons.LeakyIntegrator`.
    """
    n = hidden.n
    none = SparseSynapses(empty(n, n, 0), jnp.zeros((n, 0), jnp.result_type(w_out)))
    return RecurrentSNN(w_in, none, w_out, b_out, hidden, readout)


def trainable(model: RecurrentSNN):
    """Filter spec (for ``eqx.partition``): True on the four trained arrays and float delays."""
    spec = jax.tree.map(lambda _: False, model)
    names = [n for n in ("w_in", "w_rec") if getattr(model, n) is not None]  # w_rec None: ff
    weights = lambda m: (*(getattr(m, n).weight for n in names), m.w_out, m.b_out)  # noqa: E731
    spec = eqx.tree_at(weights, spec, replace=(True,) * (len(names) + 2))
    for name in names:
        delay = getattr(getattr(model, name), "delay", None)
        if delay is not None and jnp.issubdtype(jnp.result_type(delay), jnp.floating):
            spec = eqx.tree_at(lambda m, n=name: getattr(m, n).delay, spec, True)
    return spec


def running_rate(z: Float[Array, "T B n"], reg: RateRegularisation, dt: float):
    """``f_t`` (per step, like ``z``) of the regulariser, for every step."""
    lam = jnp.exp(-dt / reg.tau_reg)
    _, f = jax.lax.scan(
        lambda f, z_t: ((g := lam * f + (1 - lam) * z_t), g), jnp.zeros_like(z[0]), z
    )
    return f


def per_step_cross_entropy(y: Float[Array, "T B out"], labels: Int[Array, " B"]):
    """Cross-entropy of ``softmax(y_t)`` at every step, averaged over steps and batch.

    e-prop's loss (Bellec et al. 2020, mlGeNN): every step has its own
    error, so an online rule can learn during the trial.
    """
    labels = checked_labels(labels, y.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(y, labels[None]).mean()


def mean_cross_entropy(y: Float[Array, "T B out"], labels: Int[Array, " B"]):
    """Cross-entropy of ``softmax(mean_t y_t)``, averaged over the batch.

    The loss on what is predicted (the time-averaged readout); its error
    reaches every step alike, so it needs the whole trial (not online).
    """
    labels = checked_labels(labels, y.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(y.mean(0), labels).mean()


def checked_labels(labels, n_classes: int):
    """``labels`` if each lies in ``[0, n_classes)``; a clear error now or under ``jit``."""
    labels = integer("labels", labels)
    message = f"labels must lie in [0, {n_classes}) (the readout's classes)"
    if is_concrete(labels):
        if np.any((np.asarray(labels) < 0) | (np.asarray(labels) >= n_classes)):
            raise ValueError(f"{message}, got {np.asarray(labels)}")
        return labels
    return eqx.error_if(labels, (labels < 0) | (labels >= n_classes), message)


def loss_terms(z, y, labels, reg: RateRegularisation, dt: float, loss=per_step_cross_entropy):
    """``(loss(y, labels), regulariser)``, the regulariser averaged over steps and batch."""
    ce = loss(y, labels)
    excess = jax.lax.stop_gradient(running_rate(z, reg, dt) - reg.f_target * dt * 1e-3)
    return ce, reg.c_reg * jnp.mean(jnp.sum(excess * z, axis=-1))


class Metrics(NamedTuple):
    """What one batch reports."""

    loss: Array  # cross-entropy + regulariser
    correct: Int[Array, ""]  # samples classified right
    rate: Array  # mean hidden rate [Hz]


def metrics(z, y, labels, loss, dt: float) -> Metrics:
    correct = jnp.sum(jnp.argmax(y.mean(0), -1) == labels)
    return Metrics(loss, correct, z.mean() * 1e3 / dt)


def check_inputs(model: RecurrentSNN, x, labels=None):
    if x.ndim != 3 or x.shape[-1] != model.n_in:
        raise ValueError(f"inputs must be [T, batch, n_in={model.n_in}], got {x.shape}")
    if labels is not None and labels.shape != x.shape[1:2]:
        raise ValueError(f"labels shape {labels.shape} must be [batch]={x.shape[1:2]}")
