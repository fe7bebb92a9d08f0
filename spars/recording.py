"""Spike recording that keeps events, not every neuron's output at every step.

``simulate``'s default ``record`` keeps each population's float output:
``T x batch x n`` values (4 GB for 50,000 neurons over 1 s at 0.1 ms).
:func:`spike_recorder` keeps, per step, the indices of at most
``max_per_step`` spiking neurons and their count, so memory is
``T x batch x max_per_step`` and nothing is dropped unseen: the count says
how many spiked, and :func:`recorded_spikes` reports what did not fit.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .kernels._backend import dispatch
from .kernels.cpu import events as KE
from .kernels.cpu._targets import supports


class SpikeRecord(NamedTuple):
    """One population's recorded spikes (leading axes: time, then batch).

    Attributes:
        ids: ``int32[T, *batch, max_per_step]`` spiking neurons, ascending; ``n`` pads.
        count: ``int32[T, *batch]`` how many spiked (may exceed ``max_per_step``).
    """

    ids: jax.Array
    count: jax.Array


def spike_recorder(names, max_per_step: int):
    """``record`` for :func:`spars.simulate`: a :class:`SpikeRecord` per named population.

    Args:
        names: the populations to record (others are not kept).
        max_per_step: the most spikes per step and batch row kept (static).
    """
    if not (isinstance(max_per_step, int) and max_per_step >= 1):
        raise ValueError(f"max_per_step must be an int >= 1, got {max_per_step!r}")
    names = tuple(names)

    def record(state) -> dict:
        unknown = sorted(set(names) - set(state.outputs))
        if unknown:
            raise ValueError(f"no population named {unknown} (have {sorted(state.outputs)})")
        return {name: _events(state.outputs[name], max_per_step) for name in names}

    return record


def _events(spikes, max_per_step: int) -> SpikeRecord:
    n, batch = spikes.shape[-1], spikes.shape[:-1]
    flat = jnp.asarray(spikes).reshape(-1, n)
    if not supports(flat):
        flat = flat.astype(jnp.float32)
    twin = partial(_nonzero_twin, size=max_per_step)
    ids, count = dispatch(lambda f, interpret: twin(f), twin, flat,
                          cpu=partial(KE.nonzero_rows, size=max_per_step))  # fmt: skip
    return SpikeRecord(ids.reshape(*batch, max_per_step), count.reshape(batch))


def _nonzero_twin(flat, size: int):
    """``(ids, count)`` per row by ``jnp.nonzero`` (the XLA twin of the CPU listing loop)."""
    n = flat.shape[-1]
    ids = jax.vmap(lambda row: jnp.nonzero(row != 0, size=size, fill_value=n)[0])(flat)
    return ids.astype(jnp.int32), jnp.sum(flat != 0, axis=-1, dtype=jnp.int32)


def recorded_spikes(record: SpikeRecord, dt: float, batch_index: tuple = ()):
    """``(times [ms], units, n_lost)`` NumPy arrays of one batch row's recorded spikes.

    A spike in step ``t`` is at time ``(t + 1) * dt`` (the end of its step).
    ``n_lost`` counts spikes beyond ``max_per_step``, which were not kept.
    """
    ids = np.asarray(record.ids)[(slice(None), *batch_index)]
    count = np.asarray(record.count)[(slice(None), *batch_index)]
    kept = np.minimum(count, ids.shape[-1])
    steps = np.repeat(np.arange(len(count)), kept)
    units = np.concatenate([ids[t, : kept[t]] for t in range(len(count))]) if len(count) else []
    return (steps + 1) * dt, np.asarray(units, np.int32), int(np.sum(count - kept))
