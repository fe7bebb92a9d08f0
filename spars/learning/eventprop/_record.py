"""The bounded spike record that EventProp's backward pass reads.

Every hidden spike of a batch, in step order: the flat id ``b * n + j``, its
in-step time ``sigma`` and ``inv_slope`` (``1 / (v_free - v)`` of its step,
0 when the neuron was above threshold at the step's start), plus the number
of spikes of each step. Memory is ``12 x capacity`` bytes plus one step's
window, whatever the trial's length. More spikes than ``capacity`` is an
error (``eqx.error_if`` on the gradients), never a shorter record.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ..._prefix import nonzero_ids
from ...kernels._events import default_event_capacity


class SpikeRecord(NamedTuple):
    ids: jax.Array  # int32[capacity + window] flat ids, in step order
    sigma: jax.Array  # [capacity + window] in-step times (fractions of dt)
    inv_slope: jax.Array  # [capacity + window]
    end: jax.Array  # int32 scalar: entries written (at most capacity)


def window(batch: int, n: int) -> tuple[int, int]:
    """``(window, chunk)``: one step's listing length and the chunk of the event loops."""
    chunk = default_event_capacity(batch * n)
    return math.ceil(batch * n / chunk) * chunk, chunk


def empty_record(capacity: int, batch: int, n: int, dtype) -> SpikeRecord:
    size = capacity + window(batch, n)[0]
    ids = jnp.full((size,), batch * n, jnp.int32)
    zeros = jnp.zeros((size,), dtype)
    return SpikeRecord(ids, zeros, zeros, jnp.int32(0))


def list_spikes(z, size: int):
    """``(ids, count)`` of the spikes ``z [B, n]``, ids padded with ``B * n`` to ``size``."""
    return nonzero_ids(z, size)


def write(record: SpikeRecord, capacity: int, ids, count, sigma, inv_slope) -> SpikeRecord:
    """Appends one step's listed spikes; ``sigma``, ``inv_slope`` are the step's ``[B, n]``."""
    at = (record.end,)
    fill = dict(mode="fill", fill_value=0.0)
    return SpikeRecord(
        lax.dynamic_update_slice(record.ids, ids, at),
        lax.dynamic_update_slice(record.sigma, sigma.reshape(-1).at[ids].get(**fill), at),
        lax.dynamic_update_slice(record.inv_slope, inv_slope.reshape(-1).at[ids].get(**fill), at),
        jnp.minimum(record.end + count, capacity),
    )


def read(record: SpikeRecord, start, count, size: int, n_flat: int):
    """``(ids, sigma, inv_slope)`` of one step: ``size`` entries from ``start``, ``count`` real."""
    real = jnp.arange(size) < count
    ids = jnp.where(real, lax.dynamic_slice(record.ids, (start,), (size,)), n_flat)
    sigma = lax.dynamic_slice(record.sigma, (start,), (size,))
    inv_slope = lax.dynamic_slice(record.inv_slope, (start,), (size,))
    return ids, sigma, inv_slope


def dense(ids, values, n_flat: int):
    """``values`` scattered to their flat ids in ``[n_flat]`` zeros (padding ids dropped)."""
    return jnp.zeros((n_flat,), values.dtype).at[ids].set(values, mode="drop")
