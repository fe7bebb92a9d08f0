"""Neuron models and spike sources as pure ``init``/``step`` PyTrees.

Every population has ``init(batch_shape=(), key=None) -> state`` and
``step(state, drive) -> (output, state)``. For neurons ``drive`` is the input
delivered this step [mV] (weights are jumps of the membrane potential, as in
mlGeNN and e-prop) and the output is spikes (0.0/1.0); a readout outputs its
potential; a Poisson source reads ``drive`` as rates [Hz]. ``drive=None``
means no input. Time constants are in [ms], potentials in [mV].
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .surrogate import FastSigmoid

Potential = Float[Array, "*batch n"]


def _decay(tau, dt):
    return jnp.exp(-dt / jnp.asarray(tau))


def _drive(drive, like):
    return jnp.zeros_like(like) if drive is None else drive


class LIFState(NamedTuple):
    v: Potential  # membrane potential [mV]
    refrac: Int[Array, "*batch n"]  # refractory steps left


class LIF(eqx.Module):
    """Leaky integrate-and-fire: ``v <- v_rest + alpha (v - v_rest) + drive``.

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

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> LIFState:
        del key
        shape = (*batch_shape, self.n)
        return LIFState(jnp.full(shape, self.v_rest), jnp.zeros(shape, jnp.int32))

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
        v = self.v_rest + alpha * (state.v - self.v_rest) + _drive(drive, state.v)
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
    beta: float = 0.0174

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> ALIFState:
        v, refrac = super().init(batch_shape, key)
        return ALIFState(v, refrac, jnp.zeros_like(v))

    def _threshold(self, state):
        return self.v_thresh + self.beta * state.a

    def _next_state(self, state, v, refrac, spikes):
        a = _decay(self.tau_adapt, self.dt) * state.a + spikes
        return ALIFState(self._reset(v, spikes), self._refrac(refrac, spikes), a)


class LeakyIntegrator(eqx.Module):
    """Non-spiking readout: ``v <- alpha v + drive + bias``; outputs ``v`` [mV].

    Attributes:
        n: number of neurons.
        tau_mem: time constant [ms].
        dt: time step [ms].
    """

    n: int = eqx.field(static=True)
    tau_mem: float = 20.0
    dt: float = 1.0

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> Potential:
        del key
        return jnp.zeros((*batch_shape, self.n))

    def step(self, state: Potential, drive=None) -> tuple[Potential, Potential]:
        v = _decay(self.tau_mem, self.dt) * state + _drive(drive, state)
        return v, v


class PoissonState(NamedTuple):
    key: jax.Array  # PRNG key for the next step
    template: Potential  # zeros of the output shape [*batch, n]


class PoissonSource(eqx.Module):
    """Independent Poisson spike trains: P(spike in a step) = ``rate * dt``.

    A ``drive`` passed to ``step`` replaces ``rate`` for that step.

    Attributes:
        n: number of neurons.
        rate: firing rate [Hz], a scalar or ``[n]``.
        dt: time step [ms].
    """

    n: int = eqx.field(static=True)
    rate: float | Float[Array, " n"] = 10.0
    dt: float = 1.0

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> PoissonState:
        if key is None:
            raise ValueError("PoissonSource.init needs a PRNG key")
        return PoissonState(key, jnp.zeros((*batch_shape, self.n)))

    def step(self, state: PoissonState, drive=None) -> tuple[Potential, PoissonState]:
        key, sub = jax.random.split(state.key)
        shape = state.template.shape
        rate = self.rate if drive is None else drive
        p = jnp.broadcast_to(rate * self.dt * 1e-3, shape)
        spikes = (jax.random.uniform(sub, shape) < p).astype(state.template.dtype)
        return spikes, PoissonState(key, state.template)


class SpikeTrain(eqx.Module):
    """Replays given spike trains, one time step per ``step``; zeros after the end.

    Attributes:
        spikes: ``[n_steps, *batch, n]`` spikes (or counts) per step.
    """

    spikes: Array

    @property
    def n(self) -> int:
        return self.spikes.shape[-1]

    @classmethod
    def from_events(cls, times, units, n: int, dt: float, n_steps: int) -> "SpikeTrain":
        """Bins events (``times`` [ms], ``units``) into ``n_steps`` steps of ``dt`` [ms].

        Events outside ``[0, n_steps * dt)`` or with a unit outside ``[0, n)``
        raise an error; several events in one bin are counted.
        """
        times, units = np.asarray(times, float), np.asarray(units, int)
        step = np.floor(times / dt).astype(int)
        bad = np.flatnonzero((step < 0) | (step >= n_steps) | (units < 0) | (units >= n))
        if bad.size:
            k = bad[0]
            raise ValueError(
                f"event {k} (time {times[k]} ms, unit {units[k]}) is outside "
                f"[0, {n_steps * dt}) ms x [0, {n})"
            )
        counts = np.zeros((n_steps, n), np.float32)
        np.add.at(counts, (step, units), 1.0)
        return cls(jnp.asarray(counts))

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> Int[Array, ""]:
        del batch_shape, key
        return jnp.int32(0)

    def step(self, state, drive=None):
        del drive
        frame = jax.lax.dynamic_index_in_dim(self.spikes, state, keepdims=False)
        inside = state < self.spikes.shape[0]
        return jnp.where(inside, frame, 0).astype(jnp.float32), state + 1
