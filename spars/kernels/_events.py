"""Event lists and the chunked event loop of the XLA paths."""

import math

import jax.numpy as jnp
from jax import lax

from .._prefix import nonzero_ids


def default_event_capacity(n_events_max: int) -> int:
    """Events per chunk: ~1/32 of all (batch, pre) pairs, at least 128."""
    return max(1, min(n_events_max, max(128, math.ceil(n_events_max / 32))))


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
