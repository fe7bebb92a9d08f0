"""Spike datasets held as events and binned to dense frames one batch at a time.

A :class:`SpikeDataset` stores every sample's events flat (CSR-style: the
events of sample ``s`` are ``offsets[s]:offsets[s + 1]``), so a dataset of
thousands of 1 s recordings costs its event count, not ``n_steps x n_units``
per sample. :meth:`SpikeDataset.frames` bins a batch to ``[n_steps, batch,
n_units]`` spike counts on demand.
"""

from dataclasses import dataclass

import numpy as np

from .._bins import time_steps


@dataclass(frozen=True)
class SpikeDataset:
    """Labelled spike recordings.

    Attributes:
        times: ``float32[n_events]`` event times [ms] from each sample's start.
        units: ``int32[n_events]`` input unit of each event, in ``[0, n_units)``.
        offsets: ``int64[n_samples + 1]`` where each sample's events start.
        labels: ``int32[n_samples]`` class of each sample.
        n_units: number of input units.
        n_classes: number of classes.
        duration: trial length [ms]; events at or after it are left out of the
            frames.
        name: what the data is, for logs and result files.
    """

    times: np.ndarray
    units: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    n_units: int
    n_classes: int
    duration: float
    name: str = "spikes"

    def __post_init__(self):
        n = len(self.labels)
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0:
            raise ValueError(f"offsets must be [n_samples + 1]={n + 1} starting at 0")
        if self.offsets[-1] != len(self.times) or len(self.times) != len(self.units):
            raise ValueError(
                f"{self.name}: {len(self.times)} times, {len(self.units)} units and "
                f"offsets ending at {self.offsets[-1]} must agree"
            )
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError(f"{self.name}: offsets must not decrease")
        _check_range(self.units, self.n_units, f"{self.name}: unit")
        _check_range(self.labels, self.n_classes, f"{self.name}: label")
        if len(self.times) and (np.min(self.times) < 0 or not np.all(np.isfinite(self.times))):
            raise ValueError(f"{self.name}: event times must be finite and >= 0")

    def __len__(self) -> int:
        return len(self.labels)

    def n_steps(self, dt: float) -> int:
        """Number of ``dt`` [ms] steps covering ``duration``."""
        return int(np.ceil(self.duration / dt - 1e-9))

    def frames(self, samples, dt: float) -> np.ndarray:
        """Spike counts ``float32[n_steps, len(samples), n_units]`` in steps of ``dt`` [ms]."""
        take, lengths = self._events_of(samples)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        n_steps = self.n_steps(dt)
        step = time_steps(self.times[take], dt)
        keep = step < n_steps
        flat = (step[keep] * len(lengths) + rows[keep]) * self.n_units + self.units[take][keep]
        counts = np.zeros(n_steps * len(lengths) * self.n_units, np.float32)
        where, how_many = np.unique(flat, return_counts=True)
        counts[where] = how_many
        return counts.reshape(n_steps, len(lengths), self.n_units)

    def _events_of(self, samples):
        """Event ids of ``samples`` in order, and each sample's event count."""
        samples = np.asarray(samples, np.int64)
        starts = self.offsets[samples]
        lengths = self.offsets[samples + 1] - starts
        first = np.cumsum(lengths) - lengths
        take = np.repeat(starts - first, lengths) + np.arange(lengths.sum())
        return take, lengths

    def batches(self, batch_size: int, dt: float, *, seed=None, epoch: int = 0,
                drop_last: bool = True):  # fmt: skip
        """Yields ``(x float32[T, B, n_units], labels int32[B])`` as ``jax`` arrays.

        Shuffled by ``numpy.random.default_rng([seed, epoch])`` when ``seed``
        is given (a new order each epoch, the same for the same pair), else in
        order. ``drop_last=False`` also yields the shorter last batch (a new
        shape: ``jit`` compiles once more for it).
        """
        import jax.numpy as jnp

        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        n = len(self)
        rng = None if seed is None else np.random.default_rng([seed, epoch])
        order = np.arange(n) if rng is None else rng.permutation(n)
        stop = n - n % batch_size if drop_last else n
        for lo in range(0, stop, batch_size):
            idx = order[lo : lo + batch_size]
            yield jnp.asarray(self.frames(idx, dt)), jnp.asarray(self.labels[idx])

    def subset(self, samples) -> "SpikeDataset":
        """The dataset restricted to ``samples`` (in that order)."""
        take, lengths = self._events_of(samples)
        return SpikeDataset(
            self.times[take],
            self.units[take],
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            self.labels[np.asarray(samples, np.int64)],
            self.n_units,
            self.n_classes,
            self.duration,
            self.name,
        )


def from_samples(times, units, labels, *, n_units, n_classes, duration, name) -> SpikeDataset:
    """Builds a dataset from per-sample event lists (times [ms], units)."""
    if len(times) != len(units) or len(times) != len(labels):
        raise ValueError(
            f"{name}: {len(times)} time lists, {len(units)} unit lists and "
            f"{len(labels)} labels must be equally long"
        )
    for s, (t, u) in enumerate(zip(times, units, strict=True)):
        if np.shape(t) != np.shape(u):
            raise ValueError(f"{name}: sample {s} has {np.size(t)} times but {np.size(u)} units")
    lengths = np.array([np.size(t) for t in times], np.int64)
    return SpikeDataset(
        np.concatenate([np.ravel(t) for t in times] or [[]]).astype(np.float32),
        np.concatenate([np.ravel(u) for u in units] or [[]]).astype(np.int32),
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        np.asarray(labels, np.int32),
        int(n_units),
        int(n_classes),
        float(duration),
        name,
    )


def _check_range(values, upper: int, what: str):
    if len(values) == 0:
        return
    bad = np.flatnonzero((values < 0) | (values >= upper))
    if bad.size:
        raise ValueError(f"{what} {values[bad[0]]} (entry {bad[0]}) is outside [0, {upper})")
