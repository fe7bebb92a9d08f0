"""Readouts and spike sources: leaky integrator, Poisson trains, replayed trains."""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .. import _poisson
from .._bins import time_steps
from .._checks import is_concrete, non_negative, positive
from ._lif import Potential, _decay, _drive


class LeakyIntegrator(eqx.Module):
    """Non-spiking readout: ``v <- alpha v + drive + bias``; outputs ``v`` [mV].

    Attributes:
        n: number of neurons.
        tau_mem: time constant [ms].
        dt: time step [ms].
        bias: constant input [mV per step], a scalar or ``[n]``.
    """

    n: int = eqx.field(static=True)
    tau_mem: float = 20.0
    dt: float = 1.0
    bias: float | Float[Array, " n"] = 0.0

    def __check_init__(self):
        positive("tau_mem", self.tau_mem, " [ms]")
        positive("dt", self.dt, " [ms]")

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> Potential:
        del key
        return jnp.zeros((*batch_shape, self.n))

    def step(self, state: Potential, drive=None) -> tuple[Potential, Potential]:
        v = _decay(self.tau_mem, self.dt) * state + _drive(drive, state) + self.bias
        return v, v


class PoissonState(NamedTuple):
    key: jax.Array  # PRNG key for the next step
    template: Potential  # zeros of the output shape [*batch, n]


class PoissonSource(eqx.Module):
    """Independent Poisson spike trains.

    By default each neuron spikes in a step with probability ``rate * dt``
    (at most one spike; ``rate * dt < 1`` is required). With ``counts=True``
    each neuron emits a Poisson number of spikes per step with mean ``rate *
    dt`` (NEST's ``poisson_generator``), so one source can stand for many
    afferents; the counts are drawn by inversion against a table built once
    (one 32-bit draw per neuron and step, exact to ``2^-32``; see
    ``spars._poisson``). A ``drive`` passed to ``step`` replaces ``rate`` for
    that step (drawn by ``jax.random.poisson`` with ``counts``).

    Attributes:
        n: number of neurons.
        rate: firing rate [Hz], a scalar or ``[n]``.
        dt: time step [ms].
        counts: draw Poisson counts instead of at most one spike per step.
    """

    n: int = eqx.field(static=True)
    rate: float | Float[Array, " n"] = 10.0
    dt: float = 1.0
    counts: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        positive("dt", self.dt, " [ms]")
        non_negative("rate", self.rate, " [Hz]")
        if is_concrete(self.rate, self.dt) and not self.counts:
            p = np.max(np.asarray(self.rate, float)) * float(self.dt) * 1e-3
            if p >= 1:
                raise ValueError(
                    f"rate * dt = {p:g} spikes per step: a source draws at most one spike "
                    "per step, so it would cap the rate; pass counts=True for Poisson "
                    "counts per step, or lower the rate or dt"
                )

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> PoissonState:
        if key is None:
            raise ValueError("PoissonSource.init needs a PRNG key")
        return PoissonState(key, jnp.zeros((*batch_shape, self.n)))

    def step(self, state: PoissonState, drive=None) -> tuple[Potential, PoissonState]:
        key, sub = jax.random.split(state.key)
        shape, dtype = state.template.shape, state.template.dtype
        rate = self.rate if drive is None else drive
        if drive is None and _tabulated(self.rate, self.dt):  # thresholds from the static rate
            mean = np.asarray(self.rate, float) * float(self.dt) * 1e-3
            if self.counts:
                spikes = _poisson.counts(sub, _poisson.thresholds(mean), shape, dtype)
            else:  # P(bits < floor(p 2^32)) = p to 2^-32
                threshold = jnp.asarray(np.floor(mean * 2.0**32).astype(np.uint32))
                spikes = (_poisson.bits(sub, shape) < threshold).astype(dtype)
        elif self.counts:
            mean = jnp.broadcast_to(rate * self.dt * 1e-3, shape)
            spikes = jax.random.poisson(sub, mean, shape).astype(dtype)
        else:
            mean = jnp.broadcast_to(rate * self.dt * 1e-3, shape)
            spikes = (jax.random.uniform(sub, shape) < mean).astype(dtype)
        return spikes, PoissonState(key, state.template)


def _tabulated(rate, dt) -> bool:
    """True if Poisson counts at ``rate * dt`` come from a threshold table (concrete, small)."""
    if not is_concrete(rate, dt):
        return False
    return float(np.max(np.asarray(rate, float))) * float(dt) * 1e-3 <= _poisson.MAX_MEAN


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
        step = time_steps(times, dt)
        times, units = np.asarray(times, float), np.asarray(units, int)
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
