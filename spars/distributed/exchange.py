"""The spike exchange: every device gets a population's whole spike vector, once a step.

A device that simulates neurons ``[d * n_local, (d + 1) * n_local)`` sends
their spikes to every other device in one all-gather, in the smaller of two
forms:

* a **bitmask**: one bit per neuron and batch entry, ``B * n_local / 8``
  bytes per device, whatever the activity;
* an **event list**: the flat ids of the neurons that spiked, ``capacity``
  ids per device (2 bytes each while ``B * n_local < 65536``, else 4).

The list has a static size, so it pays only when ``capacity`` is below the
bitmask's size: the default is a quarter of that (1/64 of the entries with
2-byte ids, 1/128 with 4-byte ids), and a step in which some device has
more spikes than ``capacity`` sends the bitmask (all devices agree by a
``pmax`` of the counts, 4 bytes). Nothing is ever dropped. Graded values
(a readout's potentials, spike counts) are gathered as they are.

The exchange is differentiable: its backward pass reduce-scatters the
cotangent, the transpose of an all-gather.
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from .._prefix import nonzero_ids
from ._local import n_shards


def id_bytes(n_entries: int) -> int:
    """Bytes per event id for ``n_entries`` flat entries (ids and the sentinel)."""
    return 2 if n_entries < 2**16 else 4


def bitmask_bytes(n_entries: int) -> int:
    """Bytes one device sends as a bitmask of ``n_entries`` (batch x neurons) entries."""
    return math.ceil(n_entries / 8)


def default_event_capacity(n_entries: int) -> int:
    """Events per device and step: a quarter of the bitmask's bytes (at least 1)."""
    return max(1, bitmask_bytes(n_entries) // (4 * id_bytes(n_entries)))


def uses_events(n_entries: int, capacity: int) -> bool:
    """Whether an event list of ``capacity`` ids is smaller than the bitmask at all."""
    return capacity * id_bytes(n_entries) < bitmask_bytes(n_entries)


def sent_bytes(counts, n_entries: int, capacity: int | None = None) -> int:
    """Bytes one device sends in a step whose devices spiked ``counts`` times each.

    The choice :func:`gather_spikes` makes: events when every count fits
    ``capacity`` (plus the 4-byte ``pmax``), else the bitmask.
    """
    capacity = capacity or default_event_capacity(n_entries)
    if uses_events(n_entries, capacity):
        if max(counts) <= capacity:
            return capacity * id_bytes(n_entries) + 4
        return bitmask_bytes(n_entries) + 4
    return bitmask_bytes(n_entries)


def gather_spikes(spikes, axis: str, *, binary: bool = True, event_capacity: int | None = None):
    """Per device, inside ``shard_map``: ``[..., n_local]`` -> ``[..., D * n_local]``.

    Args:
        spikes: this device's block of the spikes (leading axes: batch).
        axis: the mesh axis the neurons are split over.
        binary: the values are 0/1 (spikes): send a bitmask or an event
            list. False: gather the values as they are.
        event_capacity: events per device and step (static); default
            :func:`default_event_capacity`.

    Returns:
        The whole spike vector on every device, in ``spikes``' dtype.
    """
    spikes = jnp.asarray(spikes)
    if n_shards(axis) == 1:
        return spikes  # nothing to exchange
    if not binary or spikes.size == 0:
        return lax.all_gather(spikes, axis, axis=spikes.ndim - 1, tiled=True)
    capacity = event_capacity or default_event_capacity(spikes.size)
    if capacity < 1:
        raise ValueError(f"event_capacity must be >= 1, got {event_capacity}")
    return _gather_binary(spikes, axis, capacity)


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _gather_binary(spikes, axis: str, capacity: int):
    flat = (spikes != 0).reshape(-1)
    if uses_events(flat.size, capacity):
        ids, count = nonzero_ids(flat, capacity)
        fits = lax.pmax(count, axis) <= capacity
        ids = ids.astype(jnp.uint16 if id_bytes(flat.size) == 2 else jnp.int32)
        gathered = lax.cond(fits, partial(_from_events, axis=axis, n=flat.size),
                            partial(_from_bits, axis=axis), ids, flat)  # fmt: skip
    else:
        gathered = _from_bits(None, flat, axis=axis)
    gathered = gathered.reshape(n_shards(axis), *spikes.shape).astype(spikes.dtype)
    return jnp.moveaxis(gathered, 0, -2).reshape(*spikes.shape[:-1], -1)


def _from_bits(ids, flat, *, axis: str):
    """All-gathers the bitmask of ``flat``: ``bool[D, entries]``."""
    del ids
    bits = lax.all_gather(jnp.packbits(flat), axis)
    return jnp.unpackbits(bits, axis=-1, count=flat.size).astype(bool)


def _from_events(ids, flat, *, axis: str, n: int):
    """All-gathers the event ids (padded with ``n``): ``bool[D, entries]``."""
    del flat
    ids = lax.all_gather(ids, axis).astype(jnp.int32)
    rows = jnp.arange(ids.shape[0], dtype=jnp.int32)[:, None]
    return jnp.zeros((ids.shape[0], n), bool).at[rows, ids].set(True, mode="drop")


def _gather_binary_fwd(spikes, axis, capacity):
    return _gather_binary(spikes, axis, capacity), None


def _gather_binary_bwd(axis, capacity, residuals, g):
    del capacity, residuals
    return (lax.psum_scatter(g, axis, scatter_dimension=g.ndim - 1, tiled=True),)


_gather_binary.defvjp(_gather_binary_fwd, _gather_binary_bwd)
