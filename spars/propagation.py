"""Event-driven spike propagation through padded rows, with custom gradients.

``propagate`` adds, for every non-zero presynaptic spike, its row of weights
(scaled by the spike value) into the postsynaptic input. The XLA path lists
the non-zero (batch, pre) events once and walks them in chunks of a static
``event_capacity``: work grows with events x ``max_row``, never with
``n_pre x n_post``, and no event is ever dropped (more events only mean more
chunks).
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import PostInput, Spikes, SynapseVar
from ._prefix import nonzero_ids
from .connectivity import Connectivity


def propagate(
    conn: Connectivity,
    weights: SynapseVar,
    spikes: Spikes,
    *,
    event_capacity: int | None = None,
) -> PostInput:
    """Postsynaptic input ``I[..., j] = sum_i spikes[..., i] W[i, j]``.

    Args:
        conn: the projection's connectivity.
        weights: ``[n_pre, max_row]`` synaptic weights (zero in padding).
        spikes: ``[..., n_pre]`` presynaptic spikes (0/1 or graded values),
            any number of leading batch axes.
        event_capacity: events processed per chunk (a speed knob, not a
            limit); default about 3% of ``batch * n_pre``, at least 128.

    Returns:
        ``[..., n_post]`` input, in the weights' dtype.

    Differentiable w.r.t. ``weights`` (an event-driven row gather) and
    ``spikes`` (a row-wise dot) by ``jax.custom_vjp``; works under ``jit``,
    ``vmap`` and ``lax.scan``.
    """
    if event_capacity is not None and event_capacity < 1:
        raise ValueError(f"event_capacity must be >= 1, got {event_capacity}")
    weights, flat, batch = _flatten(conn, weights, spikes)
    if flat.size == 0 or conn.max_row == 0:
        return jnp.zeros((*batch, conn.n_post), weights.dtype)
    event_capacity = event_capacity or default_event_capacity(flat.size)
    out = _propagate(conn.n_post, event_capacity, conn.indices, weights, flat)
    return out.reshape(*batch, conn.n_post)


def default_event_capacity(n_events_max: int) -> int:
    """Events per chunk: ~1/32 of all (batch, pre) pairs, at least 128."""
    return max(1, min(n_events_max, max(128, math.ceil(n_events_max / 32))))


def propagate_reference(conn: Connectivity, weights: SynapseVar, spikes: Spikes) -> PostInput:
    """Pure-jnp twin of :func:`propagate` that scatters every row (not event-driven)."""
    weights, flat, batch = _flatten(conn, weights, spikes)
    contrib = flat[:, :, None] * weights[None]
    out = jnp.zeros((flat.shape[0], conn.n_post), weights.dtype)
    out = out.at[:, conn.indices].add(contrib, mode="drop")
    return out.reshape(*batch, conn.n_post)


def _flatten(conn: Connectivity, weights, spikes):
    """Checks shapes; returns weights, spikes as ``[batch, n_pre]`` and the batch shape."""
    weights, spikes = jnp.asarray(weights), jnp.asarray(spikes)
    if weights.shape != conn.indices.shape:
        raise ValueError(
            f"weights shape {weights.shape} must equal the connectivity's "
            f"[n_pre, max_row]={conn.indices.shape}"
        )
    if spikes.ndim < 1 or spikes.shape[-1] != conn.n_pre:
        raise ValueError(f"spikes shape {spikes.shape} must end in n_pre={conn.n_pre}")
    batch = spikes.shape[:-1]
    return weights, spikes.reshape(math.prod(batch), conn.n_pre).astype(weights.dtype), batch


def _event_list(flat, capacity: int):
    """Flat ids of non-zero (batch, pre) events, padded to a multiple of capacity."""
    size = math.ceil(flat.size / capacity) * capacity
    return nonzero_ids(flat, size)


def _chunk_loop(ids, count, capacity: int, n_pre: int, body, init):
    """Runs ``body(batch, pre, valid, carry)`` over chunks of events."""

    def step(state):
        c, carry = state
        ev = lax.dynamic_slice(ids, (c * capacity,), (capacity,))
        valid = jnp.arange(capacity) + c * capacity < count
        return c + 1, body(ev // n_pre, ev % n_pre, valid, carry)

    n_chunks = (count + capacity - 1) // capacity
    return lax.while_loop(lambda s: s[0] < n_chunks, step, (jnp.int32(0), init))[1]


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _propagate(n_post: int, capacity: int, indices, weights, flat):
    return _forward(n_post, capacity, indices, weights, flat)[0]


def _forward(n_post, capacity, indices, weights, flat):
    n_batch, n_pre = flat.shape
    ids, count = _event_list(flat, capacity)
    width = n_post + 1  # one trash column per batch row absorbs padding slots

    def body(b, i, valid, out):
        b = jnp.where(valid, b, n_batch)  # invalid events land out of range
        vals = weights[i] * flat[jnp.minimum(b, n_batch - 1), i][:, None]
        return out.at[(b * width)[:, None] + indices[i]].add(vals, mode="drop")

    out = jnp.zeros((n_batch * width,), weights.dtype)
    out = _chunk_loop(ids, count, capacity, n_pre, body, out)
    return out.reshape(n_batch, width)[:, :n_post], (ids, count)


def _propagate_fwd(n_post, capacity, indices, weights, flat):
    out, (ids, count) = _forward(n_post, capacity, indices, weights, flat)
    return out, (indices, weights, flat, ids, count)


def _propagate_bwd(n_post, capacity, residuals, g):
    indices, weights, flat, ids, count = residuals
    n_batch, n_pre = flat.shape
    g_ext = jnp.pad(g, ((0, 0), (0, 1)))  # padding slots read the zero column
    d_flat = jnp.einsum("ik,bik->bi", weights, g_ext[:, indices])

    def body(b, i, valid, dw):
        row = jnp.where(valid, i, n_pre)  # invalid events are dropped
        b = jnp.minimum(b, n_batch - 1)
        vals = g_ext[b[:, None], indices[i]] * flat[b, i][:, None]
        return dw.at[row].add(vals, mode="drop")

    d_weights = _chunk_loop(ids, count, capacity, n_pre, body, jnp.zeros_like(weights))
    return None, d_weights, d_flat.astype(flat.dtype)


_propagate.defvjp(_propagate_fwd, _propagate_bwd)
