"""Positions, synapse distances and position-derived delays: NumPy, finite differences, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars


def _projection(n_pre=7, n_post=9, p=0.5, seed=0):
    return spars.fixed_probability(jax.random.key(seed), n_pre, n_post, p, headroom=1.5)


def _numpy_distances(conn, pre, post, period=None):
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    out = np.zeros(idx.shape)
    for i in range(conn.n_pre):
        for k in range(length[i]):
            delta = np.asarray(post)[idx[i, k]] - np.asarray(pre)[i]
            if period is not None:
                delta = (delta + period / 2) % period - period / 2
            out[i, k] = np.sqrt(np.sum(delta**2))
    return out


def test_grid_positions_are_row_major_and_scale_onto_another_grid():
    pos = np.asarray(spars.grid_positions((2, 3)))
    np.testing.assert_array_equal(pos, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])
    np.testing.assert_allclose(spars.grid_positions((2, 3), (4, 9))[5], [2.0, 6.0])
    assert spars.grid_positions((2, 2, 2)).shape == (8, 3)


@pytest.mark.parametrize("period", [None, 4.0])
def test_synapse_distances_equal_numpy(period):
    conn = _projection()
    rng = np.random.default_rng(1)
    pre, post = rng.uniform(0, 4, (7, 3)), rng.uniform(0, 4, (9, 3))
    got = spars.synapse_distances(conn, pre, post, period=period)
    np.testing.assert_allclose(got, _numpy_distances(conn, pre, post, period), rtol=1e-5, atol=1e-6)


def test_delays_from_positions_and_their_gradients_equal_central_differences():
    conn = _projection(seed=2)
    rng = np.random.default_rng(3)
    pre, post = rng.uniform(0, 2, (7, 2)), rng.uniform(0, 2, (9, 2))
    with jax.enable_x64(True):
        pre, post = jnp.asarray(pre), jnp.asarray(post)
        delays = spars.delays_from_positions(conn, pre, post, velocity=0.5, dt=0.5, max_delay=20)
        want = np.where(
            np.asarray(conn.mask), (0.5 + _numpy_distances(conn, pre, post) / 0.5) / 0.5, 0
        )
        np.testing.assert_allclose(delays, want, rtol=1e-10)
        mix = jnp.cos(jnp.arange(conn.indices.size)).reshape(conn.indices.shape)

        def loss(pre, post, velocity):
            d = spars.delays_from_positions(
                conn, pre, post, velocity=velocity, dt=0.5, max_delay=20
            )
            return jnp.sum(mix * d**2)

        grads = jax.grad(loss, (0, 1, 2))(pre, post, 0.5)
        eps = 1e-6
        for which, x in enumerate((pre, post, jnp.asarray(0.5))):
            for pos in np.ndindex(x.shape):
                e = jnp.zeros(x.shape).at[pos].set(eps)
                args = [pre, post, jnp.asarray(0.5)]
                plus = loss(*[a + e if n == which else a for n, a in enumerate(args)])
                minus = loss(*[a - e if n == which else a for n, a in enumerate(args)])
                np.testing.assert_allclose(grads[which][pos], (plus - minus) / (2 * eps),
                                           rtol=1e-6, atol=1e-8)  # fmt: skip


def test_autapse_distance_has_a_zero_gradient():
    conn = spars.Connectivity(jnp.array([[0]]), jnp.array([1]), 1)
    grad = jax.grad(lambda p: spars.synapse_distances(conn, p, p).sum())(jnp.ones((1, 2)))
    np.testing.assert_array_equal(grad, 0.0)


def test_bad_positions_and_velocities_raise_clear_errors():
    conn = _projection()
    pre, post = np.zeros((7, 2)), np.full((9, 2), 3.0)
    with pytest.raises(ValueError, match="velocity must be > 0"):
        spars.delays_from_positions(conn, pre, post, velocity=0.0, dt=0.1, max_delay=10)
    with pytest.raises(ValueError, match="raise max_delay or the velocity"):
        spars.delays_from_positions(conn, pre, post, velocity=1.0, dt=0.1, max_delay=10)
    with pytest.raises(ValueError, match="dt must be > 0"):
        spars.delays_from_positions(conn, pre, post, velocity=1.0, dt=0.0, max_delay=10)
    with pytest.raises(ValueError, match="positions for 9 -> 9 neurons"):
        spars.synapse_distances(conn, post, post)
    with pytest.raises(ValueError, match="equal dims"):
        spars.synapse_distances(conn, pre, np.zeros((9, 3)))
    traced = jax.jit(lambda v: spars.delays_from_positions(conn, pre, post, velocity=v, dt=0.1,
                                                           max_delay=100))  # fmt: skip
    with pytest.raises((jax.errors.JaxRuntimeError, Exception), match="velocity must be > 0"):
        traced(-1.0).block_until_ready()
