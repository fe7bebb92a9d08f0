"""Delayed propagation kernels: spikes pushed into a ring buffer, and their XLA twins.

Shapes: ``flat [B, n_pre]`` presynaptic spikes, ``indices``/``weights``/
``delays [n_pre, max_row]`` padded rows, ``buffer [B, D, n_post]`` the ring
of postsynaptic input (``D = max_delay`` slots), ``now`` the int32 slot that
the next read returns. A synapse of delay ``d`` (in steps, ``1 <= d <= D``)
adds into slot ``(now + d - 1) mod D``.

Real-valued delays are split between the two neighbouring integer delays:
``lo = clip(floor(d), 1, D - 1)`` receives ``(1 - f)`` of the input and
``lo + 1`` receives ``f = d - lo`` (linear interpolation). Integer delays go
to one slot.

- :func:`push_delayed`: one program per event (as :func:`~.propagation.push`),
  adding its row into the buffer, aliased in place, with atomics.
- :func:`delayed_cotangent`: the buffer's cotangent read back at every
  synapse's slots, the shared part of every backward pass (XLA only).
"""

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from . import _pallas as P
from ._events import chunk_loop
from .propagation import PUSH_PROGRAMS


def split_delay(delays, max_delay: int):
    """``(lo, frac)``: the lower integer delay and the share of ``lo + 1``.

    Integer delays give ``(delays, None)``. For real delays ``lo`` is
    ``clip(floor(d), 1, max(max_delay - 1, 1))`` and ``frac = d - lo``.
    """
    if jnp.issubdtype(delays.dtype, jnp.integer):
        return delays.astype(jnp.int32), None
    lo = jnp.clip(jnp.floor(delays), 1, max(max_delay - 1, 1))
    return lo.astype(jnp.int32), delays - lo


def ring_target(indices, lo, now, max_delay: int, n_post: int, step: int = 0):
    """Flat ``slot * n_post + j`` at delay ``lo + step``; padding gets ``D * n_post``."""
    slot = (now + lo - 1 + step) % max_delay
    return jnp.where(indices < n_post, slot * n_post + indices, max_delay * n_post)


def push_delayed_reference(
    ids, count, indices, weights, delays, flat, buffer, now, *, capacity: int
):
    """XLA twin of :func:`push_delayed`: chunks of events, each a scatter-add into the ring."""
    n_batch, n_pre = flat.shape
    _, n_slots, n_post = buffer.shape
    per_batch = n_slots * n_post

    def body(b, i, valid, out):
        b = jnp.where(valid, b, n_batch)  # invalid events land out of range
        value = weights[i] * flat[jnp.minimum(b, n_batch - 1), i][:, None]
        lo, frac = split_delay(delays[i], n_slots)
        base = (b * per_batch)[:, None]
        target = base + ring_target(indices[i], lo, now, n_slots, n_post)
        if frac is None:
            return out.at[target].add(value, mode="drop")
        target_hi = base + ring_target(indices[i], lo, now, n_slots, n_post, step=1)
        both = jnp.concatenate([target, target_hi], axis=1)
        shares = jnp.concatenate([value * (1 - frac), value * frac], axis=1)
        return out.at[both].add(shares, mode="drop")

    out = chunk_loop(ids, count, capacity, n_pre, body, buffer.reshape(-1))
    return out.reshape(buffer.shape)


def push_delayed(
    ids,
    count,
    row_length,
    indices,
    weights,
    delays,
    flat,
    buffer,
    now,
    *,
    capacity: int,
    interpret: bool = False,
):
    """Pallas push into the ring: each event's row added at its synapses' delay slots."""
    del capacity
    n_batch, n_pre = flat.shape
    _, n_slots, n_post = buffer.shape
    block = P.slot_block(indices.shape[1])
    n_prog = min(PUSH_PROGRAMS, P.pow2(ids.shape[0]))

    def kernel(ids_ref, count_ref, now_ref, len_ref, idx_ref, w_ref, d_ref, s_ref, _, out_ref):
        pid, now = pl.program_id(0), now_ref[0]
        mine = P.blocks(jnp.maximum(count_ref[0] - pid, 0), n_prog)

        def event(e, carry):
            ev = ids_ref[pid + e * n_prog]
            b, i = ev // n_pre, ev % n_pre
            value, length = s_ref[ev], len_ref[i]

            def chunk(c, carry):
                slots = P.lanes(c * block, block)
                live = slots < length
                target = P.load(idx_ref, (i, slots), live)
                w = P.load(w_ref, (i, slots), live, 0.0) * value
                lo, frac = split_delay(P.load(d_ref, (i, slots), live, 1), n_slots)
                flat_lo = ring_target(target, lo, now, n_slots, n_post)
                if frac is None:
                    P.atomic_add(out_ref, (b, flat_lo), w, live, interpret=interpret)
                    return carry
                flat_hi = ring_target(target, lo, now, n_slots, n_post, step=1)
                P.atomic_add(out_ref, (b, flat_lo), w * (1 - frac), live, interpret=interpret)
                P.atomic_add(out_ref, (b, flat_hi), w * frac, live, interpret=interpret)
                return carry

            return P.loop(P.blocks(length, block), chunk, carry)

        P.loop(mine, event)

    out = jax.ShapeDtypeStruct((n_batch, n_slots * n_post), buffer.dtype)
    args = (ids, count.reshape(1), jnp.reshape(now, (1,)).astype(jnp.int32), row_length,
            indices, weights, delays, flat.reshape(-1))  # fmt: skip
    ring = buffer.reshape(n_batch, n_slots * n_post)
    out = P.call(kernel, out, (n_prog,), *args, ring, aliases={8: 0}, interpret=interpret,
                 warps=P.num_warps(block))  # fmt: skip
    return out.reshape(buffer.shape)


def _slot_cotangents(read, indices, delays, now, n_slots: int, n_post: int):
    """``read(flat targets)`` at each synapse's two slots: ``(g_syn, slope | None)``.

    ``g_syn`` is the interpolated cotangent of the synapse's input and
    ``slope`` its derivative w.r.t. the delay, ``g[lo + 1] - g[lo]``.
    """
    lo, frac = split_delay(delays, n_slots)
    g_lo = read(ring_target(indices, lo, now, n_slots, n_post))
    if frac is None:
        return g_lo, None
    slope = read(ring_target(indices, lo, now, n_slots, n_post, step=1)) - g_lo
    frac = frac.reshape(frac.shape + (1,) * (slope.ndim - frac.ndim))
    return g_lo + frac * slope, slope


ONE_SHOT = 2**22  # gathered elements below which the backward pass gathers every slot at once


def _by_target(g):
    """The cotangent ``g [B, D, n_post]`` as ``[D * n_post + 1, B]``: one row per ring
    target (the last, for padding, reads 0), so a gathered target is one contiguous run."""
    return jnp.pad(g.reshape(g.shape[0], -1).T, ((0, 1), (0, 0)))


def dense_grads_delayed(indices, weights, delays, flat, g, now):
    """``(ds [B, n_pre], dW, dd | None)`` from one gather of every slot's cotangent.

    For small ``B x n_pre x max_row`` (up to ``ONE_SHOT``) this beats the
    event-driven pass, whose chunk loop has a fixed cost.
    """
    _, n_slots, n_post = g.shape
    ring = _by_target(g)
    g_syn, slope = _slot_cotangents(lambda t: ring[t], indices, delays, now, n_slots, n_post)
    d_flat = jnp.einsum("ik,ikb->bi", weights, g_syn)
    d_weights = jnp.einsum("bi,ikb->ik", flat, g_syn)
    d_delays = None if slope is None else weights * jnp.einsum("bi,ikb->ik", flat, slope)
    return d_flat, d_weights, d_delays


def spike_grad_delayed_reference(indices, weights, delays, g, now):
    """``ds [B, n_pre]``: every row's dot with the cotangent at its synapses' slots.

    Rows go in blocks (about 64 kB gathered each) so that the gather stays in
    cache; for small projections :func:`dense_grads_delayed` gathers at once.
    """
    n_batch, n_slots, n_post = g.shape
    ring = _by_target(g)
    n_pre, max_row = indices.shape
    rows = P.pow2(16384 // (max_row * n_batch) + 1, 8, 1024) // 2
    pad = -n_pre % rows

    def block(args):
        idx, w, d = args
        g_syn, _ = _slot_cotangents(lambda t: ring[t], idx, d, now, n_slots, n_post)
        return jnp.einsum("ik,ikb->ib", w, g_syn)

    blocks = [jnp.pad(a, ((0, pad), (0, 0))).reshape(-1, rows, max_row)
              for a in (indices, weights, delays)]  # fmt: skip
    blocks[0] = jnp.where(jnp.arange(n_pre + pad).reshape(-1, rows, 1) < n_pre, blocks[0], n_post)
    out = jax.lax.map(block, tuple(blocks))
    return out.reshape(-1, n_batch)[:n_pre].T


def weight_delay_grad_reference(ids, count, indices, weights, delays, flat, g, now, *,
                                capacity: int):  # fmt: skip
    """``(dW, dd)`` over the spiking (batch, pre) events only, in chunks.

    ``dW[i, k] = sum_b s[b, i] g_syn[b, i, k]`` and ``dd[i, k] = W[i, k] sum_b
    s[b, i] slope[b, i, k]`` (None for integer delays); zero on rows that
    never spiked.
    """
    n_batch, n_slots, n_post = g.shape
    n_pre = flat.shape[1]
    ring = jnp.pad(g.reshape(n_batch, -1), ((0, 0), (0, 1)))  # [B, D * n_post + 1]
    integer = jnp.issubdtype(delays.dtype, jnp.integer)

    def body(b, i, valid, grads):
        row = jnp.where(valid, i, n_pre)  # invalid events are dropped
        b = jnp.minimum(b, n_batch - 1)
        read = lambda t: ring[b[:, None], t]  # noqa: E731
        g_syn, slope = _slot_cotangents(read, indices[i], delays[i], now, n_slots, n_post)
        s = flat[b, i][:, None]
        dw = grads[0].at[row].add((s * g_syn).astype(g.dtype), mode="drop")
        if integer:
            return dw, grads[1]
        dd = grads[1].at[row].add((s * weights[i] * slope).astype(g.dtype), mode="drop")
        return dw, dd

    zero = jnp.zeros(indices.shape, g.dtype)
    dw, dd = chunk_loop(ids, count, capacity, n_pre, body, (zero, zero))
    return dw, None if integer else dd
