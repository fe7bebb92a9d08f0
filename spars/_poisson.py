"""Poisson counts by inversion against a threshold table: one 32-bit draw per count.

For a mean ``lam`` the table holds ``T_k = ceil(F(k) 2^32)`` for the CDF
``F(k) = P(X <= k)`` while it is below ``2^32``; a count is the number of
thresholds at or below a uniform 32-bit draw, which is exact up to the
draw's resolution: counts whose probability is below ``2^-32`` are never
drawn. Costs one draw and ``K`` comparisons per count (``K`` about ``lam +
10 sqrt(lam) + 10``), against ``jax.random.poisson``'s rejection loops.
"""

import math

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from jax import lax

MAX_MEAN = 100.0
"""Means above this (per draw) are drawn by ``jax.random.poisson`` instead."""


def thresholds(lam) -> np.ndarray:
    """``uint32 [K, *lam.shape]`` thresholds for the means ``lam`` (concrete, <= MAX_MEAN)."""
    lam = np.asarray(lam, np.float64)
    if np.any(lam < 0) or np.any(lam > MAX_MEAN) or not np.all(np.isfinite(lam)):
        raise ValueError(f"Poisson means must lie in [0, {MAX_MEAN}], got {lam}")
    rows, p = [], np.exp(-lam)
    cdf = p.copy()
    for k in range(1, 10_000):
        row = np.ceil(cdf * 2.0**32)
        if np.all(row >= 2.0**32):
            break
        rows.append(np.minimum(row, 2.0**32 - 1))  # 2^32 - 1: reached by one draw in 2^32
        p = p * lam / k
        cdf = cdf + p
    if not rows:
        return np.zeros((0, *lam.shape), np.uint32)
    return np.stack(rows).astype(np.uint32)


def bits(key, shape: tuple[int, ...]):
    """Uniform ``uint32`` words of ``shape`` from ``key``: both halves of each Threefry block.

    ``jax.random.bits`` keeps one 32-bit word per 64-bit block (half the
    hashes wasted, twice the time on a CPU); this counts through
    ``iota(size)`` and keeps both. Keys of other PRNGs use ``jax.random.bits``.
    """
    size = math.prod(shape)
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    if data.shape != (2,) or size == 0:
        return jax.random.bits(key, shape, jnp.uint32)
    words = jex_random.threefry_2x32(data, lax.iota(jnp.uint32, size + size % 2))
    return words[:size].reshape(shape)


def counts(key, table, shape: tuple[int, ...], dtype=jnp.float32):
    """Poisson counts of ``shape`` (broadcast against ``table[k]``) from a threshold table."""
    bits_ = bits(key, shape)
    table = jnp.asarray(table)
    hits = bits_[None] >= table.reshape(table.shape[0], *([1] * (len(shape) - table.ndim + 1)),
                                       *table.shape[1:])  # fmt: skip
    return jnp.sum(hits, axis=0, dtype=jnp.int32).astype(dtype)
