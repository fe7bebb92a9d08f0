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
from ._lif import Potential, _decay, _drive, checked_batch


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

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> Potential:
        return jnp.zeros((*checked_batch(key, batch_shape), self.n))

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
    afferents. Either way a step costs one uniform 32-bit word per neuron
    (``spars._poisson``): a spike where the word lies below ``rate * dt *
    2^32``; counts by inversion against a table of the CDF, built once from a
    concrete rate (exact to ``2^-32``), or built on the fly in float32 for
    rates known only under ``jit``. A ``drive`` passed to ``step`` replaces
    ``rate`` for that step. The words depend only on the key, so a source
    draws the same spikes eagerly, under ``jit`` and split over devices.

    Attributes:
        n: number of neurons.
        rate: firing rate [Hz], a scalar or ``[n]``.
        dt: time step [ms].
        counts: draw Poisson counts instead of at most one spike per step.
        table: the counts' CDF thresholds ``uint32[K, n or 1]`` of ``rate *
            dt``, built at construction from a concrete rate (None otherwise).
    """

    n: int = eqx.field(static=True)
    rate: float | Float[Array, " n"]
    dt: float
    counts: bool = eqx.field(static=True)
    table: Array | None

    def __init__(self, n: int, rate=10.0, dt: float = 1.0, counts: bool = False, table=None):
        self.n, self.rate, self.dt, self.counts = n, rate, dt, counts
        if table is None and counts and _tabulated(rate, dt):
            mean = np.asarray(rate, float) * float(dt) * 1e-3
            table = _poisson.thresholds(mean.reshape(-1) if mean.ndim else mean.reshape(1))
        self.table = None if table is None else jnp.asarray(table)

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

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> PoissonState:
        batch_shape = checked_batch(key, batch_shape)
        if key is None:
            raise ValueError("PoissonSource.init needs a PRNG key")
        return PoissonState(key, jnp.zeros((*batch_shape, self.n)))

    def step(self, state: PoissonState, drive=None) -> tuple[Potential, PoissonState]:
        key, sub = jax.random.split(state.key)
        words = _poisson.bits(sub, state.template.shape)
        return self.spikes(words, drive).astype(state.template.dtype), PoissonState(
            key, state.template)  # fmt: skip

    def spikes(self, words, drive=None):
        """Spikes (or counts) from uniform ``uint32`` words ``[*batch, n]`` and the drive."""
        if drive is None and self.table is not None:
            return _poisson.counts_from_table(words, self.table)
        mean = (self.rate if drive is None else drive) * self.dt * 1e-3
        if self.counts:
            return _poisson.counts_from_mean(words, mean)
        return _poisson.bernoulli(words, mean)


def _tabulated(rate, dt) -> bool:
    """True if Poisson counts at ``rate * dt`` come from a table (concrete, small enough)."""
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

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> Int[Array, ""]:
        checked_batch(key, batch_shape)
        return jnp.int32(0)

    def step(self, state, drive=None):
        del drive
        frame = jax.lax.dynamic_index_in_dim(self.spikes, state, keepdims=False)
        inside = state < self.spikes.shape[0]
        return jnp.where(inside, frame, 0).astype(jnp.float32), state + 1
