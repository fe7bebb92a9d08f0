"""Additive all-to-all STDP on padded rows, row-parallel or through the column view.

Each presynaptic neuron keeps a trace ``x_pre`` (``+1`` per spike, decays with
``tau_plus``) and each postsynaptic neuron a trace ``x_post`` (``+1``,
``tau_minus``). In every step, after the traces decay:

1. a presynaptic spike depresses each of its synapses,
   ``w <- clip(w - a_minus * x_post[post], 0, g_max)``;
2. then a postsynaptic spike potentiates each synapse onto it,
   ``w <- clip(w + a_plus * x_pre[pre], 0, g_max)``;
3. then the step's spikes are added to the traces (spikes in the same step do
   not pair).

Both formulations depress through the rows of the spiking presynaptic
neurons. For potentiation :func:`stdp_update` makes one pass over all slots
(only in steps with a postsynaptic spike) and needs no column view;
:func:`stdp_update_columns` visits only the columns of the spiking
postsynaptic neurons but needs a :class:`~spars.ColumnView` that is current,
i.e. rebuilt after every structural change. Both give the same weights.
Padding slots stay zero.
"""

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from .._custom_types import SynapseVar
from ..column import ColumnView
from ..connectivity import Connectivity
from ..kernels._events import Events
from ..kernels._events import chunk_loop as _chunk_loop


class STDPTraces(NamedTuple):
    pre: Float[Array, " pre"]  # presynaptic spike trace (dimensionless)
    post: Float[Array, " post"]  # postsynaptic spike trace (dimensionless)


class STDP(eqx.Module):
    """Parameters of additive STDP with weights in ``[0, g_max]``.

    Attributes:
        g_max: largest weight (same unit as the weights).
        tau_plus: presynaptic trace time constant [ms].
        tau_minus: postsynaptic trace time constant [ms].
        a_plus: potentiation per pair, in units of ``g_max``.
        a_minus: depression per pair, in units of ``g_max``; default
            ``1.2 * a_plus * tau_plus / tau_minus`` (slightly depression-dominated).
        dt: time step [ms].
    """

    g_max: float
    tau_plus: float = 20.0
    tau_minus: float = 64.0
    a_plus: float = 0.02
    a_minus: float | None = None
    dt: float = 0.1

    @property
    def depression(self) -> float:
        """``a_minus`` as used: the given value or the balanced default."""
        if self.a_minus is None:
            return 1.2 * self.a_plus * self.tau_plus / self.tau_minus
        return self.a_minus

    def init(self, n_pre: int, n_post: int) -> STDPTraces:
        """Zero traces."""
        return STDPTraces(jnp.zeros((n_pre,)), jnp.zeros((n_post,)))

    def decayed(self, traces: STDPTraces) -> STDPTraces:
        """The traces one step later, before this step's spikes."""
        return STDPTraces(
            traces.pre * jnp.exp(-self.dt / self.tau_plus),
            traces.post * jnp.exp(-self.dt / self.tau_minus),
        )


def stdp_update(
    rule: STDP,
    conn: Connectivity,
    weights: SynapseVar,
    traces: STDPTraces,
    pre_spikes: Float[Array, " pre"],
    post_spikes: Float[Array, " post"],
    *,
    event_capacity: int | None = None,
    pre_events: Events | None = None,
) -> tuple[SynapseVar, STDPTraces]:
    """One step of STDP without a column view.

    Args:
        rule: the STDP parameters.
        conn: the connectivity.
        weights: ``[n_pre, max_row]`` weights (zero on padding).
        traces: from ``rule.init`` or the previous step.
        pre_spikes, post_spikes: ``[n_pre]`` / ``[n_post]`` spikes (0/1) this step.
        event_capacity: presynaptic spikes handled per chunk (a speed knob).
        pre_events: ``spars.spike_events(pre_spikes)``, if listed already
            (e.g. for the propagation of the same spikes).

    Returns:
        ``(weights, traces)`` after the step.

    Cost: depression visits the rows of the spiking presynaptic neurons;
    potentiation is one pass over all ``n_pre * max_row`` slots, skipped in
    steps without postsynaptic spikes. Needing no column view, it stays valid
    through any structural change at no extra cost.
    """
    _check(conn, weights, traces, pre_spikes, post_spikes)
    now = rule.decayed(traces)
    w = _depress_rows(rule, conn, weights, now.post, pre_spikes, event_capacity, pre_events)
    any_post = jnp.any(post_spikes != 0)
    w = lax.cond(any_post, _potentiate_all, _unchanged, rule, conn, w, now.pre, post_spikes)
    return w, _with_spikes(now, pre_spikes, post_spikes)


def stdp_update_columns(
    rule: STDP,
    conn: Connectivity,
    columns: ColumnView,
    weights: SynapseVar,
    traces: STDPTraces,
    pre_spikes: Float[Array, " pre"],
    post_spikes: Float[Array, " post"],
    *,
    event_capacity: int | None = None,
    pre_events: Events | None = None,
) -> tuple[SynapseVar, STDPTraces]:
    """:func:`stdp_update`, event-driven: spiking rows, then spiking columns.

    Args:
        rule, conn, weights, traces, pre_spikes, post_spikes: as :func:`stdp_update`.
        columns: ``column_view(conn)`` of this very connectivity (rebuild it
            after every structural change, or the potentiation goes astray).
        event_capacity: spikes handled per chunk (a speed knob, not a limit).
        pre_events: as in :func:`stdp_update`.

    Returns:
        ``(weights, traces)`` after the step, equal to :func:`stdp_update`'s.

    Cost: ``O(pre spikes * max_row + post spikes * max_col)`` per step.
    """
    _check(conn, weights, traces, pre_spikes, post_spikes)
    now = rule.decayed(traces)
    w = _depress_rows(rule, conn, weights, now.post, pre_spikes, event_capacity, pre_events)
    w = _potentiate_columns(rule, columns, w, now.pre, post_spikes, event_capacity)
    return w, _with_spikes(now, pre_spikes, post_spikes)


def _depress_rows(rule, conn, weights, post_trace, pre_spikes, capacity, events):
    if conn.max_row == 0 or conn.n_pre == 0:
        return weights
    events = Events.of(pre_spikes, capacity) if events is None else events
    events.check(conn.n_pre, "pre_spikes")
    ids, count, capacity = events.ids, events.count, events.capacity
    step = rule.depression * rule.g_max

    def body(_, pre, valid, w):
        row = jnp.where(valid, pre, conn.n_pre)  # invalid events are dropped
        trace = post_trace.at[conn.indices[pre]].get(mode="fill", fill_value=0.0)
        new = jnp.clip(w[pre] - step * trace, 0.0, rule.g_max)  # padding stays 0
        return w.at[row].set(new, mode="drop")

    return _chunk_loop(ids, count, capacity, conn.n_pre, body, weights)


def _potentiate_columns(rule, columns, weights, pre_trace, post_spikes, capacity):
    n_post, max_col = columns.pre.shape
    if max_col == 0 or n_post == 0:
        return weights
    events = Events.of(post_spikes, capacity)
    ids, count, capacity = events.ids, events.count, events.capacity
    n_pre = weights.shape[0]
    step = rule.a_plus * rule.g_max

    def body(_, post, valid, w):
        pre = jnp.where(valid[:, None], columns.pre[post], n_pre)  # padding: n_pre
        slot = columns.slot[post]
        old = w.at[pre, slot].get(mode="fill", fill_value=0.0)
        trace = pre_trace.at[pre].get(mode="fill", fill_value=0.0)
        return w.at[pre, slot].set(jnp.clip(old + step * trace, 0.0, rule.g_max), mode="drop")

    return _chunk_loop(ids, count, capacity, n_post, body, weights)


def _potentiate_all(rule, conn, weights, pre_trace, post_spikes):
    """``w += a_plus g_max x_pre[i] z_post[j]`` on every slot, clipped."""
    post_spiked = post_spikes.at[conn.indices].get(mode="fill", fill_value=0.0)
    w = weights + (rule.a_plus * rule.g_max) * pre_trace[:, None] * post_spiked
    return jnp.clip(w, 0.0, rule.g_max).astype(weights.dtype)


def _unchanged(rule, conn, weights, pre_trace, post_spikes):
    del rule, conn, pre_trace, post_spikes
    return weights


def _with_spikes(traces, pre_spikes, post_spikes):
    return STDPTraces(traces.pre + pre_spikes, traces.post + post_spikes)


def _check(conn, weights, traces, pre_spikes, post_spikes):
    expected = {
        "weights": (jnp.shape(weights), conn.indices.shape),
        "traces.pre": (jnp.shape(traces.pre), (conn.n_pre,)),
        "pre_spikes": (jnp.shape(pre_spikes), (conn.n_pre,)),
        "traces.post": (jnp.shape(traces.post), (conn.n_post,)),
        "post_spikes": (jnp.shape(post_spikes), (conn.n_post,)),
    }
    for name, (shape, want) in expected.items():
        if tuple(shape) != tuple(want):
            raise ValueError(f"{name} has shape {shape}, expected {want} (vmap for batches)")
