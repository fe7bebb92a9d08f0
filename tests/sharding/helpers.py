"""Shared pieces of the sharded tests."""

import jax
import jax.numpy as jnp
import numpy as np

import spars


def dyadic(key, shape, scale=1.0, mask=None):
    """Weights that are multiples of 1/16: float sums in any order are exact."""
    w = jnp.round(16 * scale * jax.random.normal(key, shape)) / 16
    return w if mask is None else jnp.where(mask, w, 0.0)


def projection(key, n_pre, n_post, p, headroom=1.5, scale=1.0):
    k_conn, k_w = jax.random.split(key)
    conn = spars.fixed_probability(k_conn, n_pre, n_post, p=p, headroom=headroom)
    return conn, dyadic(k_w, conn.indices.shape, scale, conn.mask)


def assert_same(a, b):
    """Equal structure and every leaf equal, bit for bit."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb, (ta, tb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(_numbers(x), _numbers(y))


def _numbers(x):
    if jnp.issubdtype(jnp.result_type(x), jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


def assert_close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(_numbers(x), _numbers(y), rtol=rtol, atol=atol)
