"""Registering compiled handlers and calling them under ``jit``, ``vmap`` and ``scan``."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap

FLOATS = (jnp.float32, jnp.float64)  # weight dtypes the loops are compiled for


def supports(*floats) -> bool:
    """True if every array has a dtype the CPU loops handle (float32 or float64, all alike)."""
    dtypes = {jnp.dtype(x.dtype) for x in floats}
    return len(dtypes) == 1 and dtypes.pop() in {jnp.dtype(d) for d in FLOATS}


@functools.cache
def target(name: str, build: Callable) -> str:
    """Compiles ``build()`` (a numba cfunc) once and registers it as the FFI target ``name``."""
    from ._ffi import register

    register(name, build())
    return name


def call(name: str, build: Callable, results, *args, **options):
    """Runs the registered handler ``name`` on ``args``.

    ``results`` and ``options`` (e.g. ``input_output_aliases``) as for
    ``jax.ffi.ffi_call``.
    """
    return jax.ffi.ffi_call(target(name, build), results, **options)(*args)


def batched(fn: Callable, n_shared: int, fold: bool) -> Callable:
    """``fn(*shared, *per_row)`` that works under ``vmap``.

    ``per_row`` arrays are ``[B, ...]`` with rows independent. Vmapped over
    ``per_row`` only, a ``fold`` function (each output row from the same
    input row, output ``[B, ...]``) folds the vmapped axis into ``B``: one
    call. Any other vmap runs one call per vmapped element (``lax.map``).
    """
    f = custom_vmap(fn)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        if fold and not any(in_batched[:n_shared]) and all(in_batched[n_shared:]):
            shared, rows = args[:n_shared], args[n_shared:]
            out = f(*shared, *(r.reshape(-1, *r.shape[2:]) for r in rows))
            out = jax.tree.map(lambda o: o.reshape(axis_size, -1, *o.shape[1:]), out)
            return out, jax.tree.map(lambda _: True, out)
        args = [a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
                for a, b in zip(args, in_batched, strict=True)]
        out = lax.map(lambda xs: f(*xs), args)
        return out, jax.tree.map(lambda _: True, out)

    return f
