"""Small helpers shared by the Pallas kernels (Triton lowering).

Every array a Triton kernel touches must have a power-of-2 size; blocks are
chosen here. Atomics differ between the GPU and interpret mode: a masked
atomic is not implemented in interpret mode and a vector atomic with repeated
indices drops updates there (jax#24117), so interpret mode accumulates with
``.at[].add`` on the whole buffer instead.
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

try:
    from jax.experimental.pallas import triton as plt
except ImportError:  # a JAX without the Triton lowering: the XLA twins run everywhere
    plt = None

AVAILABLE = plt is not None

MAX_BATCH_BLOCK = 32  # batch rows per program; larger batches add a grid axis
MAX_SLOT_BLOCK = 128  # row slots per loop step


def pow2(n: int, low: int = 1, high: int | None = None) -> int:
    """The smallest power of 2 >= ``n``, clipped to ``[low, high]``."""
    p = 1 << max(int(n) - 1, 0).bit_length()
    p = max(p, low)
    return p if high is None else min(p, high)


def slot_block(width: int) -> int:
    """Slots handled per loop step for rows or columns of capacity ``width``."""
    return pow2(width, 16, MAX_SLOT_BLOCK)


def batch_block(n_batch: int) -> int:
    """Batch rows handled per program."""
    return pow2(n_batch, 1, MAX_BATCH_BLOCK)


def num_warps(block: int) -> int:
    """One warp per 32 lanes of the widest vector, 1 to 4."""
    return max(1, min(4, block // 32))


def call(kernel, out_shape, grid, *args, aliases=None, interpret: bool, warps: int = 4):
    """``pl.pallas_call`` with the Triton compiler parameters and whole-array refs."""
    return pl.pallas_call(
        kernel,
        out_shape=out_shape,
        grid=grid,
        input_output_aliases=aliases or {},
        interpret=interpret,
        compiler_params=plt.CompilerParams(num_warps=warps, num_stages=1),
    )(*args)


def blocks(length, block: int):
    """Number of ``block``-wide steps covering ``length`` entries."""
    return (length + block - 1) // block


def loop(n, body, init=0):
    """``lax.fori_loop(0, n, body, init)`` with a dynamic trip count."""
    return lax.fori_loop(0, n, body, init)


def lanes(start, block: int):
    """``int32[block]`` positions ``start .. start + block - 1``."""
    return start + jnp.arange(block, dtype=jnp.int32)


def load(ref, idx, mask, other=0):
    """Masked gather ``ref[idx]``; masked-off lanes read ``other``."""
    return plt.load(ref.at[idx], mask=mask, other=other)


def store(ref, idx, value, mask):
    """Masked ``ref[idx] = value`` where every lane's ``idx`` is distinct (see :func:`scatter`)."""
    plt.store(ref.at[idx], value.astype(ref.dtype), mask=mask)


def scatter(ref, idx: tuple, value, mask, *, interpret: bool):
    """Masked ``ref[idx] = value`` where live lanes' ``idx`` are distinct.

    Masked-off lanes may carry any index. In interpret mode a masked store
    of a repeated index can let a masked lane win, so the whole buffer is
    written back with masked lanes sent out of range instead.
    """
    if not interpret:
        store(ref, idx, value, mask)
        return
    *lead, last = idx
    last = jnp.where(mask, last, ref.shape[len(idx) - 1])
    ref[...] = ref[...].at[(*lead, last)].set(value.astype(ref.dtype), mode="drop")


def atomic_add(ref, idx: tuple, value, mask, *, interpret: bool):
    """``ref[idx] += value`` where ``mask``; returns the values before the add.

    ``idx`` indexes every axis of ``ref``; the last index array carries the
    mask. In interpret mode the whole buffer is read and written back.
    """
    value = value.astype(ref.dtype)
    if not interpret:
        return plt.atomic_add(ref, idx, value, mask=mask)
    *lead, last = idx
    last = jnp.where(mask, last, ref.shape[len(idx) - 1])
    current = ref[...]
    ref[...] = current.at[(*lead, last)].add(value, mode="drop")
    return current.at[(*lead, last)].get(mode="fill", fill_value=0)


def barrier(*, interpret: bool) -> None:
    """Waits until every thread of the program got here (a no-op in interpret mode)."""
    if not interpret:
        plt.debug_barrier()


def zeros(shape, dtype) -> jax.Array:
    """A zero buffer to alias into a kernel output (outputs start uninitialised)."""
    return jnp.zeros(shape, dtype)
