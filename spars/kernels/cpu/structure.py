"""Structural scans on the CPU: row compaction after removal and the column-view build.

Same results as the XLA twins in :mod:`spars.kernels.structure` and
:mod:`spars.kernels.columns`:

- :func:`compact_rows`: each row's kept synapses moved to its front in
  order, in place, every per-synapse array with them (any dtype of 1, 2, 4
  or 8 bytes, moved as unsigned words); freed slots become padding. Work is
  the real slots, never ``max_row``.
- :func:`build_columns`: a counting sort: one pass over the real slots by
  ascending row fills each column in presynaptic order (an overflowing
  column keeps its lowest presynaptic indices, as the twin does).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numba import carray, cfunc, njit

from . import _ffi as F
from ._targets import batched, call

_WORDS = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}
_U8, _U16, _U32, _U64 = 6, 7, 8, 9  # XLA_FFI_DataType codes


@njit(nogil=True, cache=True)
def compact_index_loop(keep, row_length, indices, n_post, length_out, source):
    """Compacts ``indices`` in place; ``source[i, t]`` the old slot of new slot ``t``."""
    max_row = indices.shape[1]
    for i in range(indices.shape[0]):
        kept = 0
        for k in range(min(row_length[i], max_row)):
            if keep[i, k]:
                source[i, kept] = k
                indices[i, kept] = indices[i, k]
                kept += 1
        for t in range(kept, min(row_length[i], max_row)):
            indices[i, t] = n_post
        length_out[i] = kept


@njit(nogil=True, cache=True)
def move_loop(values, row_length, length_out, source):
    """Moves one per-synapse array as :func:`compact_index_loop` moved the indices; zeros after."""
    max_row = values.shape[1]
    for i in range(values.shape[0]):
        kept = length_out[i]
        for t in range(kept):
            values[i, t] = values[i, source[i, t]]
        for t in range(kept, min(row_length[i], max_row)):
            values[i, t] = 0


@njit(inline="always")
def _move_result(frame, k, row_length, length_out, source, shape):
    code = F.dtype_code_result(frame, k)
    address = F.data_address(frame, k, True)
    if code == _U8:
        move_loop(carray(F.pointer(address), shape, np.uint8), row_length, length_out, source)
    elif code == _U16:
        move_loop(carray(F.pointer(address), shape, np.uint16), row_length, length_out, source)
    elif code == _U32:
        move_loop(carray(F.pointer(address), shape, np.uint32), row_length, length_out, source)
    else:
        move_loop(carray(F.pointer(address), shape, np.uint64), row_length, length_out, source)


def _build_compact():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            keep = F.array2(frame, 0, False, np.uint8)
            row_length = F.array1(frame, 1, False, np.int32)
            n_post = F.array1(frame, 2, False, np.int32)[0]
            source = F.array2(frame, 0, True, np.int32)  # scratch: each new slot's old slot
            length_out = F.array1(frame, 1, True, np.int32)
            indices = F.array2(frame, 2, True, np.int32)
            compact_index_loop(keep, row_length, indices, n_post, length_out, source)
            for k in range(3, F.n_results(frame)):
                _move_result(frame, k, row_length, length_out, source, indices.shape)
        return F.success()

    return handler


@njit(nogil=True, cache=True)
def columns_loop(row_length, indices, pre, slot, col_length, overflow):
    """``pre``/``slot`` of each column's synapses by ascending row (``[n_post, max_col]``)."""
    n_pre, max_row = indices.shape
    n_post, max_col = pre.shape
    pre[:] = n_pre
    slot[:] = max_row
    col_length[:] = 0
    lost = 0
    for i in range(n_pre):
        for k in range(min(row_length[i], max_row)):
            j = indices[i, k]
            if 0 <= j < n_post:
                at = col_length[j]
                if at < max_col:
                    pre[j, at] = i
                    slot[j, at] = k
                    col_length[j] = at + 1
                else:
                    lost += 1
    overflow[0] = lost


def _build_columns():
    @cfunc(F.SIGNATURE, nopython=True, nogil=True, cache=True)
    def handler(frame):
        if F.should_run(frame):
            columns_loop(F.array1(frame, 0, False, np.int32), F.array2(frame, 1, False, np.int32),
                         F.array2(frame, 0, True, np.int32), F.array2(frame, 1, True, np.int32),
                         F.array1(frame, 2, True, np.int32), F.flat(frame, 3, True, np.int32))
        return F.success()

    return handler


def _as_words(x):
    """``x`` as unsigned words of its item size (bool as uint8)."""
    if x.dtype == jnp.bool_:
        return x.astype(jnp.uint8)
    return lax.bitcast_convert_type(x, _WORDS[x.dtype.itemsize])


def _from_words(words, like):
    if like.dtype == jnp.bool_:
        return words.astype(jnp.bool_)
    return lax.bitcast_convert_type(words, like.dtype)


def supported(*variables) -> bool:
    """True if every per-synapse array has an item size the compaction loop moves."""
    return all(jnp.dtype(v.dtype).itemsize in _WORDS for v in variables)


def compact_rows(keep, row_length, indices, *variables, n_post: int):
    """``(row_length, indices, *variables)`` without the real slots where ``keep`` is False."""

    def run(keep, row_length, indices, *variables):
        arrays = (indices, *(_as_words(v) for v in variables))
        shapes = (jax.ShapeDtypeStruct(indices.shape, jnp.int32),
                  jax.ShapeDtypeStruct(row_length.shape, jnp.int32),
                  *(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays))  # fmt: skip
        aliases = {3 + k: 2 + k for k in range(len(arrays))}
        out = call("spars_cpu_compact_rows", _build_compact, shapes, keep.astype(jnp.uint8),
                   row_length, jnp.full((1,), n_post, jnp.int32), *arrays,
                   input_output_aliases=aliases)  # fmt: skip
        moved = (_from_words(w, v) for w, v in zip(out[3:], variables, strict=True))
        return (out[1], out[2], *moved)

    return batched(run, 0, fold=False)(keep, row_length, indices, *variables)


def build_columns(row_length, indices, *, n_post: int, max_col: int):
    """``(pre, slot, col_length, overflow)`` of the column view (see module docstring)."""

    def run(row_length, indices):
        shapes = (jax.ShapeDtypeStruct((n_post, max_col), jnp.int32),
                  jax.ShapeDtypeStruct((n_post, max_col), jnp.int32),
                  jax.ShapeDtypeStruct((n_post,), jnp.int32),
                  jax.ShapeDtypeStruct((), jnp.int32))  # fmt: skip
        return tuple(call("spars_cpu_build_columns", _build_columns, shapes, row_length, indices))

    return batched(run, 0, fold=False)(row_length, indices)
