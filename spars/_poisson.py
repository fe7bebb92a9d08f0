"""Spikes and Poisson counts from uniform 32-bit words: one word per neuron and step.

- :func:`bits`: the words, both halves of each Threefry block.
- :func:`bernoulli`: a spike where the word lies below ``floor(p 2^32)``
  (computed in float32, the same whether ``p`` is concrete or traced).
- :func:`counts_from_table`: inversion against a table ``T_k = ceil(F(k)
  2^32)`` of the CDF ``F(k) = P(X <= k)``, built once from a concrete mean
  (:func:`thresholds`): exact up to the word's resolution (counts rarer than
  ``2^-32`` are never drawn); ``K`` comparisons per count.
- :func:`counts_from_mean`: the same inversion with the CDF built on the fly
  in float32 (for means known only inside ``jit``): one loop round per
  count value up to the largest count drawn.
"""

import math

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
from jax import lax

MAX_MEAN = 80.0
"""The largest mean per draw a table is built for (``exp(-mean)`` stays normal in float32)."""


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


def bernoulli(words, p):
    """1 where ``words < floor(p 2^32)`` (probability ``p`` to ``2^-32``), else 0; float32."""
    scaled = jnp.floor(jnp.asarray(p, jnp.float32) * jnp.float32(2.0**32))
    threshold = jnp.minimum(scaled, jnp.float32(2.0**32 - 256)).astype(jnp.uint32)
    return (words < threshold).astype(jnp.float32)


def thresholds(mean) -> np.ndarray:
    """``uint32 [K, *mean.shape]`` thresholds for concrete means in ``[0, MAX_MEAN]``."""
    mean = np.asarray(mean, np.float64)
    if np.any(mean < 0) or np.any(mean > MAX_MEAN) or not np.all(np.isfinite(mean)):
        raise ValueError(f"Poisson means must lie in [0, {MAX_MEAN}], got {mean}")
    rows, p = [], np.exp(-mean)
    cdf = p.copy()
    for k in range(1, 10_000):
        row = np.ceil(cdf * 2.0**32)
        if np.all(row >= 2.0**32):
            break
        rows.append(np.minimum(row, 2.0**32 - 1))  # 2^32 - 1: reached by one word in 2^32
        p = p * mean / k
        cdf = cdf + p
    return np.stack(rows).astype(np.uint32) if rows else np.zeros((0, *mean.shape), np.uint32)


def counts_from_table(words, table):
    """Poisson counts (float32): the thresholds ``table [K, ...]`` at or below each word."""
    table = jnp.asarray(table)
    extra = words.ndim - (table.ndim - 1)
    table = table.reshape(table.shape[0], *([1] * extra), *table.shape[1:])
    return jnp.sum(words[None] >= table, axis=0, dtype=jnp.int32).astype(jnp.float32)


def counts_from_mean(words, mean):
    """Poisson counts (float32) of ``mean`` (broadcast to ``words``) by float32 inversion."""
    mean = jnp.broadcast_to(jnp.asarray(mean, jnp.float32), words.shape)
    log_mean, scale = jnp.log(mean), jnp.float32(2.0**32)

    def above(cdf):  # words beyond the CDF so far: their count is larger
        return (words >= cdf * scale) & (cdf < 1.0)

    def more(state):
        k, _, _, cdf = state
        return jnp.any(above(cdf)) & (k < 1e6)

    def next_count(state):  # log-space terms: no underflow to a stuck CDF for large means
        k, count, log_p, cdf = state
        log_p = log_p + log_mean - jnp.log(k + 1)
        return k + 1, count + above(cdf), log_p, cdf + jnp.exp(log_p)

    state = (jnp.float32(0), jnp.zeros(words.shape, jnp.int32), -mean, jnp.exp(-mean))
    return lax.while_loop(more, next_count, state)[1].astype(jnp.float32)
