"""Positions and periodic distances on 2-D grids (neuron i at row i // w, column i % w)."""

import jax.numpy as jnp


def periodic(delta, size):
    """Signed distance on a ring of ``size``, in ``[-size/2, size/2)``."""
    return jnp.mod(delta + size / 2.0, size) - size / 2.0


def scaled_position(ids, shape, onto_shape):
    """``(y, x)`` of neurons ``ids`` of a ``shape`` grid, scaled onto ``onto_shape``."""
    (h_from, w_from), (h, w) = shape, onto_shape
    y = (ids // w_from).astype(jnp.float32) * (h / h_from)
    x = (ids % w_from).astype(jnp.float32) * (w / w_from)
    return y, x


def squared_distance(pre, post, pre_shape, post_shape):
    """Squared periodic distance between pre and post neurons, in post grid units."""
    h, w = post_shape
    y, x = scaled_position(pre, pre_shape, post_shape)
    dy = periodic((post // w).astype(jnp.float32) - y, h)
    dx = periodic((post % w).astype(jnp.float32) - x, w)
    return dy**2 + dx**2
