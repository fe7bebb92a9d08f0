"""Event-driven spike propagation through padded rows, with custom gradients.

``propagate`` adds, for every non-zero presynaptic spike, its row of weights
(scaled by the spike value) into the postsynaptic input. It lists the
non-zero (batch, pre) events once; the XLA path walks them in chunks of a
static ``event_capacity``, the CUDA kernels (``spars.kernels``) one row per
event; the CPU loops (``spars.kernels.cpu``) walk the spikes directly, with
no list. Work grows with events x row length, never with ``n_pre x n_post``,
and no event is ever dropped (more events only mean more chunks).
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import PostInput, Spikes, SynapseVar
from .column import ColumnView
from .connectivity import Connectivity
from .kernels import propagation as K
from .kernels._backend import dispatch, runs_twin_only
from .kernels._events import Events, default_event_capacity
from .kernels.cpu import propagation as KC
from .kernels.cpu._targets import supports

PULL_EVENTS_PER_ROW = 2.0
"""On CUDA with a column view: pull once spikes per presynaptic neuron (summed
over the batch) reach this; below it, push. See docs/kernels.md."""


def propagate(
    conn: Connectivity,
    weights: SynapseVar,
    spikes: Spikes,
    *,
    event_capacity: int | None = None,
    columns: ColumnView | None = None,
    events: Events | None = None,
) -> PostInput:
    """Postsynaptic input ``I[..., j] = sum_i spikes[..., i] W[i, j]``.

    Args:
        conn: the projection's connectivity.
        weights: ``[n_pre, max_row]`` synaptic weights (zero in padding).
        spikes: ``[..., n_pre]`` presynaptic spikes (0/1 or graded values),
            any number of leading batch axes.
        event_capacity: events processed per chunk (a speed knob, not a
            limit); default about 3% of ``batch * n_pre``, at least 128.
        columns: the current :class:`~spars.ColumnView` of ``conn``, if one
            is at hand. On CUDA it lets the kernels pull (sum each column)
            instead of push (scatter each spiking row) when many neurons
            spike; elsewhere it is not used. It must be rebuilt after every
            structural change.
        events: :func:`spike_events` of these very ``spikes``, if they are
            listed already (their capacity replaces ``event_capacity``).

    Returns:
        ``[..., n_post]`` input, in the weights' dtype.

    Differentiable w.r.t. ``weights`` (an event-driven row gather) and
    ``spikes`` (a row-wise dot) by ``jax.custom_vjp``; works under ``jit``,
    ``vmap`` and ``lax.scan``. On CUDA the forward and backward passes run
    as Pallas kernels (``spars.kernels``), on CPU as compiled loops
    (``spars.kernels.cpu``, float32/float64), elsewhere on XLA;
    ``spars.kernels.backend("xla")`` forces the XLA path.
    """
    if event_capacity is not None and event_capacity < 1:
        raise ValueError(f"event_capacity must be >= 1, got {event_capacity}")
    weights, flat, batch = _flatten(conn, weights, spikes)
    if flat.size == 0 or conn.max_row == 0:
        return jnp.zeros((*batch, conn.n_post), weights.dtype)
    _check_columns(conn, columns)
    if events is None:
        capacity, listed = event_capacity or default_event_capacity(flat.size), None
    else:
        events.check(flat.size, f"spikes {jnp.shape(spikes)}")
        capacity, listed = events.capacity, (events.ids, events.count)
    out = _propagate(
        conn.n_post, capacity, conn.row_length, conn.indices, weights, flat, columns, listed
    )
    return out.reshape(*batch, conn.n_post)


def spike_events(spikes: Spikes, *, event_capacity: int | None = None) -> Events:
    """Lists the non-zero spikes once, to share between consumers of the same spikes.

    ``propagate(..., events=)`` and ``spars.learning.stdp_update(...,
    pre_events=)`` each list the spikes they are given; a step that feeds the
    same spikes to several of them can list them once here.

    Args:
        spikes: ``[..., n]`` spikes (any leading batch axes).
        event_capacity: events per chunk; default as :func:`propagate`'s.

    Returns:
        :class:`Events` of the flattened ``[batch, n]`` spikes.
    """
    flat = jnp.asarray(spikes).reshape(-1)
    if flat.size == 0:
        raise ValueError("spike_events needs at least one spike entry")
    return Events.of(flat, event_capacity)


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


def _check_columns(conn: Connectivity, columns: ColumnView | None):
    if columns is not None and columns.pre.shape[0] != conn.n_post:
        raise ValueError(
            f"columns has {columns.pre.shape[0]} columns; the connectivity has "
            f"n_post={conn.n_post}"
        )


def _pull_wins(count, n_pre: int):
    """Push or pull: pull once events per presynaptic row reach :data:`PULL_EVENTS_PER_ROW`."""
    return count >= PULL_EVENTS_PER_ROW * n_pre


def _listed(listed, flat, capacity: int):
    """``(ids, count)`` of the non-zero spikes: as given, or listed now."""
    if listed is None:
        events = Events.of(flat, capacity)
        return events.ids, events.count
    return listed


def _forward_kernels(row_length, indices, weights, flat, listed, columns, *, n_post, capacity,
                     interpret):
    ids, count = _listed(listed, flat, capacity)

    def push(_):
        return K.push(ids, count, row_length, indices, weights, flat, n_post=n_post,
                      capacity=capacity, interpret=interpret)

    if columns is None:
        return push(None)

    def pull(_):
        return K.pull(*columns, weights, flat, interpret=interpret)

    return lax.cond(_pull_wins(count, flat.shape[1]), pull, push, None)


def _forward_xla(row_length, indices, weights, flat, listed, columns, *, n_post, capacity):
    del columns  # the event-driven scatter beats a full pull on XLA
    ids, count = _listed(listed, flat, capacity)
    return K.push_reference(ids, count, row_length, indices, weights, flat, n_post=n_post,
                            capacity=capacity)


def _forward_cpu(row_length, indices, weights, flat, listed, columns, *, n_post):
    del columns  # the loop reads the spikes directly, or walks them where they come listed
    return KC.push(row_length, indices, weights, flat, listed, n_post=n_post)


def _weight_grad_kernels(row_length, indices, flat, g, listed, *, capacity, interpret):
    del listed  # the kernel lists the rows that spiked in any batch row
    return K.weight_grad(None, None, row_length, indices, flat, g, capacity=capacity,
                         interpret=interpret)


def _weight_grad_xla(row_length, indices, flat, g, listed, *, capacity):
    ids, count = _listed(listed, flat, capacity)
    return K.weight_grad_reference(ids, count, row_length, indices, flat, g, capacity=capacity)


def _weight_grad_cpu(row_length, indices, flat, g, listed):
    return KC.weight_grad(row_length, indices, flat, g, listed)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _propagate(n_post: int, capacity: int, row_length, indices, weights, flat, columns, listed):
    args = (row_length, indices, weights, flat, columns, listed)
    return _propagate_fwd(n_post, capacity, *args)[0]


def _propagate_fwd(n_post, capacity, row_length, indices, weights, flat, columns, listed):
    static = {"n_post": n_post, "capacity": capacity}
    if listed is None and runs_twin_only(supports(weights)):
        listed = _listed(None, flat, capacity)  # listed once, for the twin's backward pass too
    cols = None if columns is None else (columns.pre, columns.slot, columns.col_length)
    out = dispatch(
        partial(_forward_kernels, **static),
        partial(_forward_xla, **static),
        row_length, indices, weights, flat, listed, cols,
        cpu=partial(_forward_cpu, n_post=n_post) if supports(weights) else None,
    )
    return out, (row_length, indices, weights, flat, listed)


def _propagate_bwd(n_post, capacity, residuals, g):
    row_length, indices, weights, flat, listed = residuals
    g = g.astype(weights.dtype)
    cpu = supports(weights)
    d_flat = dispatch(K.spike_grad, K.spike_grad_reference, row_length, indices, weights, g,
                      cpu=KC.spike_grad if cpu else None)
    d_weights = dispatch(
        partial(_weight_grad_kernels, capacity=capacity),
        partial(_weight_grad_xla, capacity=capacity),
        row_length, indices, flat, g, listed,
        cpu=_weight_grad_cpu if cpu else None,
    )
    return None, None, d_weights, d_flat.astype(flat.dtype), None, None


_propagate.defvjp(_propagate_fwd, _propagate_bwd)
