"""The delay ring's operations behind the platform dispatch: push (differentiable) and pop.

Shapes as in :mod:`spars.kernels.delayed`, with the ring in the shape of
``DelayBuffer.values`` (``[*batch, D * n_post]``, ``B = prod(batch)``). Each
platform's push is a custom VJP of its own and
:func:`~spars.kernels._backend.dispatch` chooses between them from outside:
a dispatch inside one custom VJP, or a reshape of the ring on the way to the
CPU loops, made XLA:CPU copy the whole ring on every step, where the loops
update it in place (so does the CPU pop, which reads the slot into a buffer
of its own before clearing it).
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from .kernels import delayed as KD
from .kernels._backend import dispatch, runs_twin_only
from .kernels._events import Events
from .kernels.cpu import delayed as KC
from .kernels.cpu._targets import supports


def push(capacity: int, n_slots: int, row_length, indices, weights, delays, flat, ring, now,
         listed):  # fmt: skip
    """``ring [*batch, D * n_post]`` with ``flat [B, n_pre]`` added at each synapse's delay.

    ``n_slots`` is ``D``; ``listed`` is ``(ids, count)`` of the non-zero
    spikes or None (listed here where a path needs it).
    """
    cpu = supports(weights)
    if listed is None and runs_twin_only(cpu):
        listed = _listed(None, flat, capacity)  # listed once, for the backward pass too
    args = (row_length, indices, weights, delays, flat, ring, now, listed)
    return dispatch(partial(_push_kernel, capacity, n_slots),
                    partial(_push_twin, capacity, n_slots), *args,
                    cpu=partial(_push_cpu, n_slots) if cpu else None)  # fmt: skip


def pop(values, now, max_delay: int):
    """``(slot now [*batch, n_post], values with it cleared)``.

    ``values`` is a ring ``[*batch, D * n_post]``.
    """
    twin = partial(_pop_twin, max_delay=max_delay)
    cpu = partial(_pop_cpu, max_delay) if supports(values) else None
    return dispatch(lambda *a, interpret: twin(*a), twin, values, now, cpu=cpu)


def _listed(listed, flat, capacity: int):
    """``(ids, count)`` of the non-zero spikes: as given, or listed now."""
    if listed is None:
        events = Events.of(flat, capacity)
        return events.ids, events.count
    return listed


def _slots(ring, n_slots: int):
    """A ring ``[*batch, D * n_post]`` as ``[B, D, n_post]``."""
    return ring.reshape(-1, n_slots, ring.shape[-1] // n_slots)


def _with_grads(forward, grads):
    """A push with a custom VJP: ``forward(*args) -> ring``; ``grads(*args, g) -> (ds, dW, dd)``.

    ``args = (row_length, indices, weights, delays, flat, ring, now, listed)``.
    """

    @jax.custom_vjp
    def pushed(row_length, indices, weights, delays, flat, ring, now, listed):
        return forward(row_length, indices, weights, delays, flat, ring, now, listed)

    def fwd(row_length, indices, weights, delays, flat, ring, now, listed):
        out = forward(row_length, indices, weights, delays, flat, ring, now, listed)
        return out, (row_length, indices, weights, delays, flat, now, listed)

    def bwd(residuals, g):
        row_length, indices, weights, delays, flat, now, listed = residuals
        d_flat, d_weights, d_delays = grads(row_length, indices, weights, delays, flat,
                                            g.astype(weights.dtype), now, listed)  # fmt: skip
        return (None, None, d_weights, d_delays, d_flat.astype(flat.dtype), g, None, None)

    pushed.defvjp(fwd, bwd)
    return pushed


def _push_kernel(capacity, n_slots, *args, interpret: bool):
    """The Pallas push (CUDA, or interpret mode), with the XLA backward pass."""

    def forward(row_length, indices, weights, delays, flat, ring, now, listed):
        ids, count = _listed(listed, flat, capacity)
        out = KD.push_delayed(ids, count, row_length, indices, weights, delays, flat,
                              _slots(ring, n_slots), now, capacity=capacity, interpret=interpret)
        return out.reshape(ring.shape)

    return _with_grads(forward, partial(_grads_twin, capacity, n_slots))(*args)


def _push_twin(capacity, n_slots, *args):
    """The XLA twin: chunks of events, each a scatter-add into the ring."""

    def forward(row_length, indices, weights, delays, flat, ring, now, listed):
        del row_length  # padding slots are sent out of range
        ids, count = _listed(listed, flat, capacity)
        out = KD.push_delayed_reference(ids, count, indices, weights, delays, flat,
                                        _slots(ring, n_slots), now, capacity=capacity)
        return out.reshape(ring.shape)

    return _with_grads(forward, partial(_grads_twin, capacity, n_slots))(*args)


def _push_cpu(n_slots, *args):
    """The CPU loops, updating the ring in place."""

    def forward(row_length, indices, weights, delays, flat, ring, now, listed):
        return KC.push_delayed(row_length, indices, weights, delays, flat, ring, now, listed,
                               n_slots=n_slots, n_post=ring.shape[-1] // n_slots)

    def grads(row_length, indices, weights, delays, flat, g, now, listed):
        del listed
        return KC.grads_delayed(row_length, indices, weights, delays, flat, g, now,
                                n_slots=n_slots, n_post=g.shape[-1] // n_slots)

    return _with_grads(forward, grads)(*args)


def _grads_twin(capacity, n_slots, row_length, indices, weights, delays, flat, g, now, listed):
    """``(ds, dW, dd | None)`` on XLA: one gather when small, event-driven beyond."""
    del row_length
    g = _slots(g, n_slots)
    if flat.shape[0] * indices.size <= KD.ONE_SHOT:  # small: one gather of every slot
        return KD.dense_grads_delayed(indices, weights, delays, flat, g, now)
    ids, count = _listed(listed, flat, capacity)  # event-driven dW/dd, ds in row blocks
    d_flat = KD.spike_grad_delayed_reference(indices, weights, delays, g, now)
    d_weights, d_delays = KD.weight_delay_grad_reference(
        ids, count, indices, weights, delays, flat, g, now, capacity=capacity
    )
    return d_flat, d_weights, d_delays


def _pop_twin(ring, now, max_delay: int):
    """XLA: read slot ``now`` of ``ring [*batch, D * n_post]`` and clear it."""
    slots = ring.reshape(*ring.shape[:-1], max_delay, -1)
    axis = slots.ndim - 2
    current = lax.dynamic_index_in_dim(slots, now, axis, keepdims=False)
    # zeros computed from the slot read (nothing exceeds inf, NaN included): XLA then
    # clears the slot in place, where constant zeros made it copy the ring twice a step
    zeros = jnp.where(current > jnp.inf, current, 0)
    cleared = lax.dynamic_update_index_in_dim(slots, zeros, now, axis)
    return current, cleared.reshape(ring.shape)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _pop_cpu(max_delay: int, ring, now):
    return KC.pop(ring, now, n_slots=max_delay, n_post=ring.shape[-1] // max_delay)


def _pop_cpu_fwd(max_delay, ring, now):
    return _pop_cpu(max_delay, ring, now), now


def _pop_cpu_bwd(max_delay, now, cotangents):
    g_current, g_ring = cotangents
    slots = g_ring.reshape(*g_ring.shape[:-1], max_delay, -1)
    g = lax.dynamic_update_index_in_dim(slots, g_current.astype(g_ring.dtype), now,
                                        slots.ndim - 2)  # fmt: skip
    return g.reshape(g_ring.shape), None


_pop_cpu.defvjp(_pop_cpu_fwd, _pop_cpu_bwd)
