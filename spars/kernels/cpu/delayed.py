"""Delayed propagation on the CPU: the push into the ring buffer, its gradients and the pop.

Shapes as in :mod:`spars.kernels.delayed`: ``flat [B, n_pre]`` spikes,
``indices``/``weights``/``delays [n_pre, max_row]``, and the ring of any
shape holding ``B x D x n_post`` values in that order (``DelayBuffer.values``
as it is: a reshape of the loop carry made XLA:CPU copy it on every step).
``clock = [now, D, n_post]`` (int32; ``now`` is the slot the next read
returns). A synapse of integer delay ``d`` adds into slot ``(now + d - 1) mod
D``; a real delay is split between ``lo = clip(floor(d), 1, max(D - 1, 1))``
(share ``1 - f``) and ``lo + 1`` (share ``f = d - lo``). Loops walk rows up
to ``row_length`` and only for non-zero spikes; targets outside ``[0,
n_post)`` are skipped, as the twins drop them. The push and the pop update
the ring in place.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.custom_batching import custom_vmap
from numba import cfunc, njit

from . import _ffi as F
from ._targets import batched, call


@njit(inline="always")
def _wrap(slot, n_slots):
    """``slot mod n_slots`` for ``0 <= slot < 2 n_slots`` (no division)."""
    return slot - n_slots if slot >= n_slots else slot


@njit(inline="always")
def _slot(d, now, n_slots):
    """The slot of integer delay ``1 <= d <= D``; delays out of range still land in the ring."""
    slot = now + d - 1
    if 0 <= slot < 2 * n_slots:
        return _wrap(slot, n_slots)
    return slot % n_slots


@njit(inline="always")
def _split(d, now, n_slots):
    """``(slot of lo, slot of lo + 1, share of lo + 1)`` of delay ``d`` [steps]."""
    lo = min(max(np.floor(d), 1.0), max(n_slots - 1.0, 1.0))
    slot = _wrap(now + int(lo) - 1, n_slots)
    return slot, _wrap(slot + 1, n_slots), d - lo


@njit(inline="always")
def _add_int(ring, b, i, s, row_length, indices, weights, delays, clock):
    """Row ``i`` of spike ``s`` (batch row ``b``) into the ring at its integer delays."""
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    for k in range(min(row_length[i], indices.shape[1])):
        j = indices[i, k]
        if 0 <= j < n_post:
            slot = _slot(delays[i, k], now, n_slots)
            ring[(b * n_slots + slot) * n_post + j] += s * weights[i, k]


@njit(inline="always")
def _add_float(ring, b, i, s, row_length, indices, weights, delays, clock):
    """Row ``i`` of spike ``s`` split between the two slots of each real delay."""
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    for k in range(min(row_length[i], indices.shape[1])):
        j = indices[i, k]
        if 0 <= j < n_post:
            lo, hi, f = _split(delays[i, k], now, n_slots)
            v = s * weights[i, k]
            ring[(b * n_slots + lo) * n_post + j] += v - v * f
            ring[(b * n_slots + hi) * n_post + j] += v * f


@njit(nogil=True, cache=True)
def push_int_loop(flat, row_length, indices, weights, delays, clock, ring):
    """``ring[b, slot(d), j] += s * w`` over the non-zero spikes (integer delays)."""
    for b in range(flat.shape[0]):
        for i in range(flat.shape[1]):
            if flat[b, i] != 0:
                _add_int(ring, b, i, flat[b, i], row_length, indices, weights, delays, clock)


@njit(nogil=True, cache=True)
def push_float_loop(flat, row_length, indices, weights, delays, clock, ring):
    """As :func:`push_int_loop`, each input split between two slots (real delays)."""
    for b in range(flat.shape[0]):
        for i in range(flat.shape[1]):
            if flat[b, i] != 0:
                _add_float(ring, b, i, flat[b, i], row_length, indices, weights, delays, clock)


@njit(nogil=True, cache=True)
def push_int_listed_loop(flat, row_length, indices, weights, delays, clock, ring, ids, count):
    """:func:`push_int_loop` over listed spikes: ``ids[:count]`` flat ids ``b * n_pre + i``."""
    n_pre = flat.shape[1]
    for e in range(count[0]):
        b, i = ids[e] // n_pre, ids[e] % n_pre
        _add_int(ring, b, i, flat[b, i], row_length, indices, weights, delays, clock)


@njit(nogil=True, cache=True)
def push_float_listed_loop(flat, row_length, indices, weights, delays, clock, ring, ids, count):
    """:func:`push_float_loop` over listed spikes."""
    n_pre = flat.shape[1]
    for e in range(count[0]):
        b, i = ids[e] // n_pre, ids[e] % n_pre
        _add_float(ring, b, i, flat[b, i], row_length, indices, weights, delays, clock)


@njit(nogil=True, cache=True)
def grads_int_loop(flat_t, row_length, indices, weights, delays, clock, g_t, ds_t, dw):
    """``ds[b, i] = sum_k w g[b, slot, j]``; ``dw[i, k] = sum_b s[b, i] g[b, slot, j]``.

    ``flat_t``/``ds_t`` are ``[n_pre, B]`` and ``g_t [D * n_post, B]``: each
    synapse's slot is found once and the batch runs innermost, contiguous.
    """
    if flat_t.shape[1] == 1:
        return _grads_int_single(flat_t, row_length, indices, weights, delays, clock, g_t, ds_t,
                                 dw)  # fmt: skip
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    n_batch, max_row = flat_t.shape[1], indices.shape[1]
    ds_t[:] = 0
    dw[:] = 0
    for i in range(indices.shape[0]):
        for k in range(min(row_length[i], max_row)):
            j = indices[i, k]
            if 0 <= j < n_post:
                at = _slot(delays[i, k], now, n_slots) * n_post + j
                w, acc = weights[i, k], 0.0
                for b in range(n_batch):
                    ds_t[i, b] += w * g_t[at, b]
                    acc += flat_t[i, b] * g_t[at, b]
                dw[i, k] = acc


@njit(nogil=True, cache=True)
def grads_float_loop(flat_t, row_length, indices, weights, delays, clock, g_t, ds_t, dw, dd):
    """As :func:`grads_int_loop` at the interpolated slots; ``dd[i, k] = w sum_b s slope``."""
    if flat_t.shape[1] == 1:
        return _grads_float_single(flat_t, row_length, indices, weights, delays, clock, g_t,
                                   ds_t, dw, dd)  # fmt: skip
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    n_batch, max_row = flat_t.shape[1], indices.shape[1]
    ds_t[:] = 0
    dw[:] = 0
    dd[:] = 0
    for i in range(indices.shape[0]):
        for k in range(min(row_length[i], max_row)):
            j = indices[i, k]
            if 0 <= j < n_post:
                lo, hi, f = _split(delays[i, k], now, n_slots)
                w, acc, acc_slope = weights[i, k], 0.0, 0.0
                for b in range(n_batch):
                    g_lo = g_t[lo * n_post + j, b]
                    slope = g_t[hi * n_post + j, b] - g_lo
                    ds_t[i, b] += w * (g_lo + f * slope)
                    acc += flat_t[i, b] * (g_lo + f * slope)
                    acc_slope += flat_t[i, b] * slope
                dw[i, k] = acc
                dd[i, k] = w * acc_slope


@njit(nogil=True, cache=True)
def _grads_int_single(flat_t, row_length, indices, weights, delays, clock, g_t, ds_t, dw):
    """:func:`grads_int_loop` at batch 1: each row's spike gradient summed in a register,
    the weight gradient written on spiking rows only (zero on the others)."""
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    dw[:] = 0
    for i in range(indices.shape[0]):
        s, acc = flat_t[i, 0], 0.0
        for k in range(min(row_length[i], indices.shape[1])):
            j = indices[i, k]
            if 0 <= j < n_post:
                g = g_t[_slot(delays[i, k], now, n_slots) * n_post + j, 0]
                acc += weights[i, k] * g
                if s != 0:
                    dw[i, k] = s * g
        ds_t[i, 0] = acc


@njit(nogil=True, cache=True)
def _grads_float_single(flat_t, row_length, indices, weights, delays, clock, g_t, ds_t, dw,
                        dd):  # fmt: skip
    """:func:`grads_float_loop` at batch 1, as :func:`_grads_int_single`."""
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    dw[:] = 0
    dd[:] = 0
    for i in range(indices.shape[0]):
        s, acc = flat_t[i, 0], 0.0
        for k in range(min(row_length[i], indices.shape[1])):
            j = indices[i, k]
            if 0 <= j < n_post:
                lo, hi, f = _split(delays[i, k], now, n_slots)
                g_lo = g_t[lo * n_post + j, 0]
                slope = g_t[hi * n_post + j, 0] - g_lo
                g = g_lo + f * slope
                acc += weights[i, k] * g
                if s != 0:
                    dw[i, k] = s * g
                    dd[i, k] = weights[i, k] * s * slope
        ds_t[i, 0] = acc


@njit(nogil=True, cache=True)
def pop_loop(clock, ring, current):
    """``current[b, :] = ring[b, now, :]``, then that slot is zeroed."""
    now, n_slots, n_post = clock[0], clock[1], clock[2]
    for b in range(current.size // max(n_post, 1)):
        start = (b * n_slots + now) * n_post
        for j in range(n_post):
            current[b * n_post + j] = ring[start + j]
            ring[start + j] = 0


@njit(inline="always")
def _inputs(frame, dtype, delay_dtype):
    return (F.array2(frame, 0, False, dtype), F.array1(frame, 1, False, np.int32),
            F.array2(frame, 2, False, np.int32), F.array2(frame, 3, False, dtype),
            F.array2(frame, 4, False, delay_dtype), F.array1(frame, 5, False, np.int32))


@njit(inline="always")
def _push_int(frame, dtype):
    args = (*_inputs(frame, dtype, np.int32), F.flat(frame, 0, True, dtype))
    if F.n_args(frame) == 9:  # the spikes come listed
        push_int_listed_loop(*args, F.array1(frame, 7, False, np.int32),
                             F.flat(frame, 8, False, np.int32))  # fmt: skip
    else:
        push_int_loop(*args)


@njit(inline="always")
def _push_float(frame, dtype):
    args = (*_inputs(frame, dtype, dtype), F.flat(frame, 0, True, dtype))
    if F.n_args(frame) == 9:
        push_float_listed_loop(*args, F.array1(frame, 7, False, np.int32),
                               F.flat(frame, 8, False, np.int32))  # fmt: skip
    else:
        push_float_loop(*args)


def _build_push():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            single, delay_code = F.dtype_code(frame, 3) == F.FLOAT32, F.dtype_code(frame, 4)
            if single and delay_code == F.INT32:
                _push_int(frame, np.float32)
            elif single:
                _push_float(frame, np.float32)
            elif delay_code == F.INT32:
                _push_int(frame, np.float64)
            else:
                _push_float(frame, np.float64)
        return F.success()

    return handler


def _build_grads():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            single, delay_code = F.dtype_code(frame, 3) == F.FLOAT32, F.dtype_code(frame, 4)
            if single and delay_code == F.INT32:
                grads_int_loop(*_inputs(frame, np.float32, np.int32),
                               F.array2(frame, 6, False, np.float32),
                               F.array2(frame, 0, True, np.float32),
                               F.array2(frame, 1, True, np.float32))
            elif single:
                grads_float_loop(*_inputs(frame, np.float32, np.float32),
                                 F.array2(frame, 6, False, np.float32),
                                 F.array2(frame, 0, True, np.float32),
                                 F.array2(frame, 1, True, np.float32),
                                 F.array2(frame, 2, True, np.float32))
            elif delay_code == F.INT32:
                grads_int_loop(*_inputs(frame, np.float64, np.int32),
                               F.array2(frame, 6, False, np.float64),
                               F.array2(frame, 0, True, np.float64),
                               F.array2(frame, 1, True, np.float64))
            else:
                grads_float_loop(*_inputs(frame, np.float64, np.float64),
                                 F.array2(frame, 6, False, np.float64),
                                 F.array2(frame, 0, True, np.float64),
                                 F.array2(frame, 1, True, np.float64),
                                 F.array2(frame, 2, True, np.float64))
        return F.success()

    return handler


def _build_pop():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            clock = F.array1(frame, 0, False, np.int32)
            if F.dtype_code(frame, 1) == F.FLOAT32:
                pop_loop(clock, F.flat(frame, 0, True, np.float32),
                         F.flat(frame, 1, True, np.float32))
            else:
                pop_loop(clock, F.flat(frame, 0, True, np.float64),
                         F.flat(frame, 1, True, np.float64))
        return F.success()

    return handler


def _clock(now, n_slots: int, n_post: int):
    return jnp.stack([jnp.asarray(now, jnp.int32), jnp.int32(n_slots), jnp.int32(n_post)])


def _delays(delays, weights):
    """Delays as int32, or as the weights' dtype if real."""
    integer = jnp.issubdtype(delays.dtype, jnp.integer)
    return delays.astype(jnp.int32 if integer else weights.dtype)


def _per_element(f, axis_size, in_batched, args):
    """One call per vmapped element (``lax.map``), for a vmap that cannot fold."""
    args = [a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
            for a, b in zip(args, in_batched, strict=True)]
    out = lax.map(lambda xs: f(*xs), args)
    return out, jax.tree.map(lambda _: True, out)


def push_delayed(row_length, indices, weights, delays, flat, ring, now, listed=None, *,
                 n_slots: int, n_post: int):  # fmt: skip
    """The ring (its own shape, ``B x D x n_post`` values) with ``flat [B, n_pre]`` added.

    ``listed``: the spikes' ``(ids, count)``, to walk them instead of reading
    every entry of ``flat``.
    """

    @custom_vmap
    def run(row_length, indices, weights, delays, now, flat, ring, *listed):
        out = jax.ShapeDtypeStruct(ring.shape, ring.dtype)
        return call("spars_cpu_push_delayed", _build_push, out, flat, row_length, indices,
                    weights, _delays(delays, weights), _clock(now, n_slots, n_post), ring,
                    *listed, input_output_aliases={6: 0})  # fmt: skip

    @run.def_vmap
    def rule(axis_size, in_batched, *args):
        if not any(in_batched[:5]) and all(in_batched[5:7]) and len(args) == 7:
            *shared, flat, ring = args  # shared rows: fold the mapped axis into B
            return run(*shared, flat.reshape(-1, flat.shape[-1]), ring), True
        return _per_element(run, axis_size, in_batched, args)

    return run(row_length, indices, weights, delays, now, flat, ring, *(listed or ()))


def grads_delayed(row_length, indices, weights, delays, flat, g, now, *, n_slots: int,
                  n_post: int):  # fmt: skip
    """``(ds [B, n_pre], dW, dd | None)`` of the push for the ring's cotangent ``g``.

    ``dW`` and ``dd`` are zero on rows that never spiked and in padding;
    ``dd`` is None for integer delays.
    """
    integer = jnp.issubdtype(delays.dtype, jnp.integer)

    def run(row_length, indices, weights, delays, now, flat, g):
        shapes = [jax.ShapeDtypeStruct(flat.shape[::-1], weights.dtype)]
        shapes += [jax.ShapeDtypeStruct(indices.shape, weights.dtype)] * (1 if integer else 2)
        g_t = g.reshape(flat.shape[0], -1).T  # [D * n_post, B]: a bitcast for B = 1
        out = call("spars_cpu_grads_delayed", _build_grads, shapes, flat.T, row_length, indices,
                   weights, _delays(delays, weights), _clock(now, n_slots, n_post), g_t)
        return (out[0].T, *out[1:])

    out = batched(run, 5, fold=False)(row_length, indices, weights, delays, now, flat, g)
    return out[0], out[1], None if integer else out[2]


def pop(ring, now, *, n_slots: int, n_post: int):
    """``(current [*ring.shape[:-1], n_post], ring)``: slot ``now`` read out and zeroed."""

    @custom_vmap
    def run(now, ring):
        shapes = (jax.ShapeDtypeStruct(ring.shape, ring.dtype),
                  jax.ShapeDtypeStruct((*ring.shape[:-1], n_post), ring.dtype))
        ring, current = call("spars_cpu_pop", _build_pop, shapes, _clock(now, n_slots, n_post),
                             ring, input_output_aliases={1: 0})  # fmt: skip
        return current, ring

    @run.def_vmap
    def rule(axis_size, in_batched, now, ring):
        if not in_batched[0]:  # the rows of the ring are independent: one call
            return run(now, ring), (True, True)
        return _per_element(run, axis_size, in_batched, (now, ring))

    return run(now, ring)
