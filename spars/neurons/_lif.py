"""Leaky integrate-and-fire neurons, plain and adaptive (voltage-jump synapses)."""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._checks import is_concrete, non_negative, positive
from ..surrogate import FastSigmoid

Potential = Float[Array, "*batch n"]


def _decay(tau, dt):
    return jnp.exp(-dt / jnp.asarray(tau))


def checked_batch(key, batch_shape) -> tuple[int, ...]:
    """``batch_shape`` as a tuple; a tuple passed as ``key`` (the old argument order) raises."""
    if isinstance(key, tuple | list | int):
        raise TypeError(f"init takes (key, batch_shape), key first like Network.init; got "
                        f"{key!r} as the key: pass batch_shape={key!r}")  # fmt: skip
    return tuple(batch_shape)


def _drive(drive, like):
    return jnp.zeros_like(like) if drive is None else drive


class LIFState(NamedTuple):
    v: Potential  # membrane potential [mV]
    refrac: Int[Array, "*batch n"]  # refractory steps left


class LIF(eqx.Module):
    """Leaky integrate-and-fire: ``v <- v_rest + alpha (v - v_rest) + drive + bias``.

    ``alpha = exp(-dt / tau_mem)``. A spike when ``v >= v_thresh``; then ``v``
    is reset (to ``v_reset``, or by subtracting ``v_thresh - v_reset``) and
    held at ``v_reset`` for ``tau_refrac`` (no spikes meanwhile).

    Attributes:
        n: number of neurons.
        tau_mem: membrane time constant [ms].
        v_thresh, v_reset, v_rest: potentials [mV].
        tau_refrac: refractory period [ms], rounded to whole steps.
        dt: time step [ms].
        spike_fn: surrogate spike function (see :mod:`spars.surrogate`).
        reset_by_subtraction: subtract instead of setting ``v_reset``.
        detach_reset: stop gradients through the reset (as e-prop does).
        bias: constant input [mV per step] added to ``drive`` (NEST's ``I_e``
            in voltage-jump units), a scalar or ``[n]``.
        v_init: ``(low, high)`` [mV]: ``init`` draws each membrane uniformly
            from it (needs a key); None starts every neuron at ``v_rest``.
    """

    n: int = eqx.field(static=True)
    tau_mem: float = 20.0
    v_thresh: float = 1.0
    v_reset: float = 0.0
    v_rest: float = 0.0
    tau_refrac: float = 0.0
    dt: float = 1.0
    spike_fn: eqx.Module = FastSigmoid()
    reset_by_subtraction: bool = eqx.field(static=True, default=False)
    detach_reset: bool = eqx.field(static=True, default=False)
    bias: float | Float[Array, " n"] = 0.0
    v_init: tuple[float, float] | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.v_init is not None and not (
            len(self.v_init) == 2 and float(self.v_init[0]) <= float(self.v_init[1])
        ):
            raise ValueError(f"v_init must be (low, high) with low <= high [mV], got {self.v_init}")
        positive("tau_mem", self.tau_mem, " [ms]")
        positive("dt", self.dt, " [ms]")
        non_negative("tau_refrac", self.tau_refrac, " [ms]")
        if is_concrete(self.v_reset, self.v_thresh) and np.any(
            np.asarray(self.v_reset) >= np.asarray(self.v_thresh)
        ):
            raise ValueError(f"v_reset ({self.v_reset} mV) must lie below v_thresh "
                             f"({self.v_thresh} mV), or every reset fires again")  # fmt: skip

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> LIFState:
        shape = (*checked_batch(key, batch_shape), self.n)
        return LIFState(self._initial_v(shape, key), jnp.zeros(shape, jnp.int32))

    def _initial_v(self, shape, key):
        if self.v_init is None:
            return jnp.full(shape, self.v_rest, jnp.result_type(float))
        if key is None:
            raise ValueError("v_init draws the initial potentials: init needs a PRNG key")
        low, high = self.v_init
        return jax.random.uniform(key, shape, minval=low, maxval=high)

    def step(self, state: LIFState, drive=None) -> tuple[Potential, LIFState]:
        v, refrac = self._integrate(state, drive)
        spikes = self.spike_fn(v - self._threshold(state)) * (refrac == 0)
        return spikes, self._next_state(state, v, refrac, spikes)

    def step_with_derivative(self, state, drive=None):
        """:meth:`step` that also returns ``d spikes / d v`` [1/mV]: ``(spikes, psi, state)``.

        ``psi`` is the surrogate's derivative at ``v - threshold``; 0 while refractory.
        """
        v, refrac = self._integrate(state, drive)
        x = v - self._threshold(state)
        spikes, psi = jax.jvp(self.spike_fn, (x,), (jnp.ones_like(x),))
        ready = refrac == 0
        spikes = spikes * ready
        return spikes, psi * ready, self._next_state(state, v, refrac, spikes)

    def _threshold(self, state):
        del state
        return self.v_thresh

    def _next_state(self, state, v, refrac, spikes):
        del state
        return LIFState(self._reset(v, spikes), self._refrac(refrac, spikes))

    def _integrate(self, state, drive):
        alpha = _decay(self.tau_mem, self.dt)
        v = self.v_rest + alpha * (state.v - self.v_rest) + _drive(drive, state.v) + self.bias
        return jnp.where(state.refrac > 0, self.v_reset, v), state.refrac

    def _reset(self, v, spikes):
        z = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        if self.reset_by_subtraction:
            return v - z * (self.v_thresh - self.v_reset)
        return v + z * (self.v_reset - v)

    def _refrac(self, refrac, spikes):
        steps = jnp.round(jnp.asarray(self.tau_refrac) / self.dt).astype(jnp.int32)
        return jnp.where(spikes > 0, steps, jnp.maximum(refrac - 1, 0))


class ALIFState(NamedTuple):
    v: Potential  # membrane potential [mV]
    refrac: Int[Array, "*batch n"]  # refractory steps left
    a: Potential  # threshold adaptation (spike trace, dimensionless)


class ALIF(LIF):
    """Adaptive LIF (Bellec et al. 2018/2020): threshold ``v_thresh + beta * a``.

    ``a <- rho * a + spikes`` with ``rho = exp(-dt / tau_adapt)``; all else as
    :class:`LIF`.

    Attributes:
        tau_adapt: adaptation time constant [ms].
        beta: threshold increase per unit of ``a`` [mV].
    """

    tau_adapt: float = 2000.0

    def __check_init__(self):
        positive("tau_adapt", self.tau_adapt, " [ms]")
    beta: float = 0.0174

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> ALIFState:
        v, refrac = super().init(key, batch_shape)
        return ALIFState(v, refrac, jnp.zeros_like(v))

    def _threshold(self, state):
        return self.v_thresh + self.beta * state.a

    def _next_state(self, state, v, refrac, spikes):
        a = _decay(self.tau_adapt, self.dt) * state.a + spikes
        return ALIFState(self._reset(v, spikes), self._refrac(refrac, spikes), a)
