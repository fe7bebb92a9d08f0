"""Propagation on the CPU: push forward, weight and spike gradients as compiled loops.

Shapes as in :mod:`spars.kernels.propagation`: ``flat [B, n_pre]`` spikes,
``indices``/``weights [n_pre, max_row]``, ``row_length [n_pre]``, ``g [B,
n_post]``. Every loop walks a row only up to its ``row_length`` and only for
non-zero spikes, so work is spikes x row length plus one read of each spike;
no event list is built. Targets outside ``[0, n_post)`` are skipped, as the
twins drop them. Each loop runs on one thread.
"""

import jax
import jax.numpy as jnp
import numpy as np
from numba import cfunc, njit

from . import _ffi as F
from ._targets import batched, call


@njit(inline="always")
def _add_row(out, b, i, s, row_length, indices, weights):
    """``out[b, indices[i, k]] += s * weights[i, k]`` along row ``i``'s real slots."""
    n_post, max_row = out.shape[1], indices.shape[1]
    for k in range(min(row_length[i], max_row)):
        j = indices[i, k]
        if 0 <= j < n_post:
            out[b, j] += s * weights[i, k]


@njit(inline="always")
def _grad_row(dw, b, i, s, row_length, indices, g):
    """``dw[i, k] += s * g[b, indices[i, k]]`` along row ``i``'s real slots."""
    n_post, max_row = g.shape[1], indices.shape[1]
    for k in range(min(row_length[i], max_row)):
        j = indices[i, k]
        if 0 <= j < n_post:
            dw[i, k] += s * g[b, j]


@njit(nogil=True, cache=True)
def push_loop(flat, row_length, indices, weights, out):
    """``out[b, indices[i, k]] += flat[b, i] * weights[i, k]`` over the non-zero spikes."""
    out[:] = 0
    for b in range(flat.shape[0]):
        for i in range(flat.shape[1]):
            if flat[b, i] != 0:
                _add_row(out, b, i, flat[b, i], row_length, indices, weights)


@njit(nogil=True, cache=True)
def push_listed_loop(flat, row_length, indices, weights, ids, count, out):
    """:func:`push_loop` over listed spikes: ``ids[:count]`` flat ids ``b * n_pre + i``."""
    out[:] = 0
    n_pre = flat.shape[1]
    for e in range(count[0]):
        b, i = ids[e] // n_pre, ids[e] % n_pre
        _add_row(out, b, i, flat[b, i], row_length, indices, weights)


@njit(nogil=True, cache=True)
def weight_grad_loop(flat, row_length, indices, g, dw):
    """``dw[i, k] = sum_b flat[b, i] g[b, indices[i, k]]`` over the non-zero spikes."""
    dw[:] = 0
    for b in range(flat.shape[0]):
        for i in range(flat.shape[1]):
            if flat[b, i] != 0:
                _grad_row(dw, b, i, flat[b, i], row_length, indices, g)


@njit(nogil=True, cache=True)
def weight_grad_listed_loop(flat, row_length, indices, g, ids, count, dw):
    """:func:`weight_grad_loop` over listed spikes."""
    dw[:] = 0
    n_pre = flat.shape[1]
    for e in range(count[0]):
        b, i = ids[e] // n_pre, ids[e] % n_pre
        _grad_row(dw, b, i, flat[b, i], row_length, indices, g)


@njit(nogil=True, cache=True)
def spike_grad_loop(row_length, indices, weights, g_t, ds_t):
    """``ds_t[i, b] = sum_k weights[i, k] g_t[indices[i, k], b]`` (both transposed, ``[n, B]``)."""
    ds_t[:] = 0
    n_post, max_row = g_t.shape[0], indices.shape[1]
    if g_t.shape[1] == 1:  # one batch row: a plain dot per row, summed in a register
        for i in range(indices.shape[0]):
            acc = 0.0
            for k in range(min(row_length[i], max_row)):
                j = indices[i, k]
                if 0 <= j < n_post:
                    acc += weights[i, k] * g_t[j, 0]
            ds_t[i, 0] = acc
        return
    for i in range(indices.shape[0]):
        for k in range(min(row_length[i], max_row)):
            j = indices[i, k]
            if 0 <= j < n_post:
                w = weights[i, k]
                for b in range(g_t.shape[1]):
                    ds_t[i, b] += w * g_t[j, b]


@njit(inline="always")
def _push(frame, dtype):
    args = (F.array2(frame, 0, False, dtype), F.array1(frame, 1, False, np.int32),
            F.array2(frame, 2, False, np.int32), F.array2(frame, 3, False, dtype))
    if F.n_args(frame) == 6:  # the spikes come listed
        push_listed_loop(*args, F.array1(frame, 4, False, np.int32),
                         F.flat(frame, 5, False, np.int32), F.array2(frame, 0, True, dtype))
    else:
        push_loop(*args, F.array2(frame, 0, True, dtype))


@njit(inline="always")
def _weight_grad(frame, dtype):
    args = (F.array2(frame, 0, False, dtype), F.array1(frame, 1, False, np.int32),
            F.array2(frame, 2, False, np.int32), F.array2(frame, 3, False, dtype))
    if F.n_args(frame) == 6:
        weight_grad_listed_loop(*args, F.array1(frame, 4, False, np.int32),
                                F.flat(frame, 5, False, np.int32),
                                F.array2(frame, 0, True, dtype))  # fmt: skip
    else:
        weight_grad_loop(*args, F.array2(frame, 0, True, dtype))


@njit(inline="always")
def _spike_grad(frame, dtype):
    spike_grad_loop(F.array1(frame, 0, False, np.int32), F.array2(frame, 1, False, np.int32),
                    F.array2(frame, 2, False, dtype), F.array2(frame, 3, False, dtype),
                    F.array2(frame, 0, True, dtype))


def _build_push():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            if F.dtype_code(frame, 3) == F.FLOAT32:
                _push(frame, np.float32)
            else:
                _push(frame, np.float64)
        return F.success()

    return handler


def _build_weight_grad():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            if F.dtype_code(frame, 3) == F.FLOAT32:
                _weight_grad(frame, np.float32)
            else:
                _weight_grad(frame, np.float64)
        return F.success()

    return handler


def _build_spike_grad():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            if F.dtype_code(frame, 2) == F.FLOAT32:
                _spike_grad(frame, np.float32)
            else:
                _spike_grad(frame, np.float64)
        return F.success()

    return handler


def push(row_length, indices, weights, flat, listed=None, *, n_post: int):
    """``[B, n_post]`` input from the non-zero spikes of ``flat`` (twin: ``push_reference``).

    ``listed``: the spikes' ``(ids, count)`` (flat ids ``b * n_pre + i``), to
    walk them instead of reading every entry of ``flat``.
    """

    def run(row_length, indices, weights, flat, *listed):
        out = jax.ShapeDtypeStruct((flat.shape[0], n_post), weights.dtype)
        return call("spars_cpu_push", _build_push, out, flat, row_length, indices, weights,
                    *listed)  # fmt: skip

    if listed is None:
        return batched(run, 3, fold=True)(row_length, indices, weights, flat)
    return batched(run, 0, fold=False)(row_length, indices, weights, flat, *listed)


def weight_grad(row_length, indices, flat, g, listed=None):
    """``[n_pre, max_row]`` weight gradient, zero on rows that never spiked and in padding."""

    def run(row_length, indices, flat, g, *listed):
        out = jax.ShapeDtypeStruct(indices.shape, g.dtype)
        return call("spars_cpu_weight_grad", _build_weight_grad, out, flat, row_length,
                    indices, g, *listed)  # fmt: skip

    return batched(run, 2, fold=False)(row_length, indices, flat, g, *(listed or ()))


def spike_grad(row_length, indices, weights, g):
    """``[B, n_pre]`` spike gradient: a dot along every row up to its length."""

    def run(row_length, indices, weights, g):
        out = jax.ShapeDtypeStruct((indices.shape[0], g.shape[0]), weights.dtype)
        ds_t = call("spars_cpu_spike_grad", _build_spike_grad, out, row_length, indices,
                    weights, jnp.transpose(g))
        return jnp.transpose(ds_t)

    return batched(run, 3, fold=True)(row_length, indices, weights, g)
