"""Listing the non-zero spikes of each batch row on the CPU: one pass, no prefix sum.

``flat [B, n]`` spikes -> ``ids int32[B, size]`` (ascending, padded with ``n``)
and ``count int32[B]`` (the number of non-zero entries, which may exceed
``size``: only the first ``size`` are listed). The XLA twin is a
``jnp.nonzero`` per row (a prefix sum and a scatter over every entry).
"""

import jax
import jax.numpy as jnp
import numpy as np
from numba import cfunc, njit

from . import _ffi as F
from ._targets import batched, call


@njit(nogil=True, cache=True)
def list_loop(flat, ids, count):
    """``ids[b, :count[b]]`` the non-zero columns of row ``b`` (the first ``size``)."""
    n, size = flat.shape[1], ids.shape[1]
    for b in range(flat.shape[0]):
        found = 0
        for i in range(n):
            if flat[b, i] != 0:
                if found < size:
                    ids[b, found] = i
                found += 1
        for k in range(min(found, size), size):
            ids[b, k] = n
        count[b] = found


@njit(nogil=True, cache=True)
def list_flat_loop(flat, ids, count):
    """``ids[:count]``: the non-zero entries of ``flat``, ascending; ``flat.size`` after them."""
    found = 0
    for e in range(flat.size):
        if flat[e] != 0:
            ids[found] = e
            found += 1
    for k in range(found, ids.size):
        ids[k] = flat.size
    count[0] = found


def _build_flat():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            ids, count = F.flat(frame, 0, True, np.int32), F.flat(frame, 1, True, np.int32)
            if F.dtype_code(frame, 0) == F.FLOAT32:
                list_flat_loop(F.flat(frame, 0, False, np.float32), ids, count)
            else:
                list_flat_loop(F.flat(frame, 0, False, np.float64), ids, count)
        return F.success()

    return handler


def list_flat(flat, size: int):
    """``(ids int32[size], count)`` of the non-zero entries of ``flat`` (any shape, read flat;
    ``size >= flat.size``): the CPU twin of ``spars.kernels._events.event_list``."""

    def run(flat):
        shapes = (jax.ShapeDtypeStruct((size,), jnp.int32), jax.ShapeDtypeStruct((), jnp.int32))
        return tuple(call("spars_cpu_list_flat", _build_flat, shapes, flat))

    return batched(run, 0, fold=False)(flat)


def _build():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            ids, count = F.array2(frame, 0, True, np.int32), F.array1(frame, 1, True, np.int32)
            if F.dtype_code(frame, 0) == F.FLOAT32:
                list_loop(F.array2(frame, 0, False, np.float32), ids, count)
            else:
                list_loop(F.array2(frame, 0, False, np.float64), ids, count)
        return F.success()

    return handler


def nonzero_rows(flat, size: int):
    """``(ids int32[B, size], count int32[B])`` of ``flat [B, n]`` (float32 or float64)."""

    def run(flat):
        shapes = (jax.ShapeDtypeStruct((flat.shape[0], size), jnp.int32),
                  jax.ShapeDtypeStruct((flat.shape[0],), jnp.int32))  # fmt: skip
        return tuple(call("spars_cpu_nonzero_rows", _build, shapes, flat))

    return batched(run, 0, fold=True)(flat)
