"""Event lists and the chunked event loop of the XLA paths."""

import math

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Int

from .._prefix import nonzero_ids
from ._backend import dispatch
from .cpu import events as KE
from .cpu._targets import supports


class Events(eqx.Module):
    """The non-zero entries of a spike array, listed once to be shared.

    Attributes:
        ids: ``int32[size]`` ascending flat ids (``b * n + i`` of the
            ``[batch, n]`` spikes), padded with ``batch * n`` to a multiple
            of ``capacity``.
        count: int32 scalar, the number of real ids.
        capacity: events per chunk of the loops that walk them (static).
    """

    ids: Int[Array, " size"]
    count: Int[Array, ""]
    capacity: int = eqx.field(static=True)

    @classmethod
    def of(cls, spikes, capacity: int | None = None) -> "Events":
        """Lists the non-zero entries of ``spikes`` (any shape, read flat).

        ``capacity`` defaults to :func:`default_event_capacity` of its size.
        """
        capacity = capacity or default_event_capacity(spikes.size)
        return cls(*listed(spikes, capacity), capacity)

    def check(self, n_entries: int, what: str) -> None:
        """Raises unless these events were listed from ``n_entries`` spikes."""
        size = math.ceil(n_entries / self.capacity) * self.capacity
        if self.ids.shape != (size,):
            raise ValueError(
                f"events list {self.ids.shape[0]} slots; {what} with {n_entries} entries "
                f"needs {size} (events must come from spike_events on these spikes)"
            )


def default_event_capacity(n_events_max: int) -> int:
    """Events per chunk: ~1/32 of all (batch, pre) pairs, at least 128."""
    return max(1, min(n_events_max, max(128, math.ceil(n_events_max / 32))))


def listed(spikes, capacity: int):
    """:func:`event_list` on the platform's path: one pass of a CPU loop, XLA elsewhere."""
    flat = lax.stop_gradient(jnp.asarray(spikes).reshape(-1))  # ids carry no gradient
    size = math.ceil(flat.size / capacity) * capacity

    def cpu(f):
        return KE.list_flat(f if supports(f) else f.astype(jnp.float32), size)

    return dispatch(lambda f, interpret: event_list(f, capacity),
                    lambda f: event_list(f, capacity), flat, cpu=cpu)  # fmt: skip


def event_list(flat, capacity: int):
    """Flat ids of the non-zero entries of ``flat``, padded to a multiple of ``capacity``.

    Returns ``(ids, count)``: ascending ids padded with ``flat.size``, and
    the number of real ones.
    """
    size = math.ceil(flat.size / capacity) * capacity
    return nonzero_ids(flat, size)


def chunk_loop(ids, count, capacity: int, n_pre: int, body, init):
    """Runs ``body(batch, pre, valid, carry)`` over ``capacity``-sized chunks of events."""

    def step(state):
        c, carry = state
        ev = lax.dynamic_slice(ids, (c * capacity,), (capacity,))
        valid = jnp.arange(capacity) + c * capacity < count
        return c + 1, body(ev // n_pre, ev % n_pre, valid, carry)

    n_chunks = (count + capacity - 1) // capacity
    return lax.while_loop(lambda s: s[0] < n_chunks, step, (jnp.int32(0), init))[1]
