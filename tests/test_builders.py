import subprocess
import sys

import jax
import numpy as np
import pytest

import spars


def _dense(conn):
    return np.asarray(spars.to_dense(conn, conn.mask.astype(np.float32))) > 0


def _check_sorted_rows(conn):
    spars.validate(conn)
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    for i in range(conn.n_pre):
        assert np.all(np.diff(idx[i, : length[i]]) > 0)


def test_fixed_probability_statistics():
    n_pre, n_post, p = 2000, 1000, 0.05
    conn = spars.fixed_probability(jax.random.key(0), n_pre, n_post, p)
    _check_sorted_rows(conn)
    length = np.asarray(conn.row_length)
    # Row length ~ Binomial(1000, 0.05): mean 50, variance 47.5.
    assert abs(length.mean() - 50.0) < 5 * np.sqrt(47.5 / n_pre)
    assert 0.85 < length.var() / 47.5 < 1.15
    # In-degree ~ Binomial(2000, 0.05): mean 100, variance 95.
    indegree = _dense(conn).sum(0)
    assert abs(indegree.mean() - 100.0) < 5 * np.sqrt(95.0 / n_post)
    assert 0.8 < indegree.var() / 95.0 < 1.2
    assert conn.max_row == length.max()


def test_fixed_probability_no_autapses_and_headroom():
    conn = spars.fixed_probability(jax.random.key(1), 500, 500, 0.2, autapses=False, headroom=1.5)
    dense = _dense(conn)
    assert not dense.diagonal().any()
    assert abs(dense.sum() / (500 * 499) - 0.2) < 5 * np.sqrt(0.2 * 0.8 / (500 * 499))
    assert conn.max_row == int(np.ceil(1.5 * int(conn.row_length.max())))
    _check_sorted_rows(conn)
    wide = spars.fixed_probability(jax.random.key(1), 50, 40, 0.2, headroom=100.0)
    assert wide.max_row == 40  # no row can hold more than n_post targets
    assert spars.fixed_number_post(jax.random.key(1), 5, 8, 3, headroom=10.0).max_row == 8
    with pytest.raises(ValueError, match="needs n_pre == n_post"):
        spars.fixed_probability(jax.random.key(1), 5, 6, 0.2, autapses=False)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_fixed_probability_extremes(p):
    conn = spars.fixed_probability(jax.random.key(2), 7, 9, p, max_row=9)
    np.testing.assert_array_equal(_dense(conn), np.full((7, 9), p > 0))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        spars.fixed_probability(jax.random.key(2), 7, 9, 1.5)


def test_builders_are_reproducible():
    for build in (
        lambda k: spars.fixed_probability(k, 300, 200, 0.1),
        lambda k: spars.fixed_number_post(k, 300, 200, 13),
        lambda k: spars.gaussian_grid(k, (10, 10), (10, 10), 0.5, 1.5),
    ):
        a, b, c = build(jax.random.key(3)), build(jax.random.key(3)), build(jax.random.key(4))
        np.testing.assert_array_equal(a.indices, b.indices)
        assert a.indices.shape != c.indices.shape or np.any(a.indices != c.indices)


@pytest.mark.parametrize("k", [0, 1, 5, 15, 19, 20])
def test_fixed_number_post_is_uniform(k):
    n_pre, n_post = 3000, 20
    conn = spars.fixed_number_post(jax.random.key(k), n_pre, n_post, k)
    _check_sorted_rows(conn)
    np.testing.assert_array_equal(conn.row_length, np.full(n_pre, k))
    counts = _dense(conn).sum(0)
    q = k / n_post
    assert np.all(np.abs(counts - n_pre * q) <= 5 * np.sqrt(n_pre * q * (1 - q)) + 1e-9)


def test_fixed_number_post_without_autapses():
    conn = spars.fixed_number_post(jax.random.key(5), 400, 400, 300, autapses=False)
    dense = _dense(conn)
    assert not dense.diagonal().any() and np.all(dense.sum(1) == 300)
    with pytest.raises(ValueError, match=r"k must be in \[0, 399\]"):
        spars.fixed_number_post(jax.random.key(5), 400, 400, 400, autapses=False)


def _torus_distance2(pre_shape, post_shape):
    (h0, w0), (h, w) = pre_shape, post_shape
    pre = np.arange(h0 * w0)
    y0, x0 = (pre // w0) * h / h0, (pre % w0) * w / w0
    post = np.arange(h * w)
    dy = (post[None] // w - y0[:, None] + h / 2) % h - h / 2
    dx = (post[None] % w - x0[:, None] + w / 2) % w - w / 2
    return dy**2 + dx**2


@pytest.mark.parametrize("pre_shape", [(24, 24), (12, 12)])
def test_gaussian_grid_probability_matches_distance_rule(pre_shape):
    post_shape, p_peak, sigma = (24, 24), 0.6, 2.0
    conns = [
        spars.gaussian_grid(jax.random.key(s), pre_shape, post_shape, p_peak, sigma)
        for s in range(4)
    ]
    for conn in conns:
        spars.validate(conn)
    connected = np.stack([_dense(c) for c in conns])
    d2 = np.broadcast_to(_torus_distance2(pre_shape, post_shape), connected.shape)
    for value in np.unique(d2)[:40]:
        sel = d2 == value
        expected = p_peak * np.exp(-value / (2 * sigma**2))
        n = sel.sum()
        tolerance = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-3
        assert abs(connected[sel].mean() - expected) < tolerance, value
    assert not connected[d2 > (7 * sigma) ** 2 * 2].any()


def test_gaussian_grid_mean_degree_and_autapses():
    conn = spars.gaussian_grid(jax.random.key(7), (32, 32), (32, 32), 1.0, 1.0, autapses=False)
    assert not _dense(conn).diagonal().any()
    expected = 2 * np.pi * 1.0 - 1.0  # sum of exp(-d^2/2) over the grid, minus the self pair
    assert abs(float(conn.n_synapses) / 1024 - expected) < 0.3


def test_fixed_probability_large_never_goes_dense():
    code = (
        "import resource, time, jax, jax.numpy as jnp, spars\n"
        "jnp.zeros(1).block_until_ready()\n"
        "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        "c = spars.fixed_probability(jax.random.key(0), 100_000, 100_000, 0.001)\n"
        "c.indices.block_until_ready()\n"
        "dt = time.perf_counter() - t\n"
        "mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) / 1024\n"
        "print(dt, mb, int(c.n_synapses))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, megabytes, n_syn = out.stdout.split()
    print(f"built 100k x 100k at p=0.001 in {float(seconds):.1f} s")
    assert float(megabytes) < 600.0  # a dense boolean matrix alone would be 10 GB
    assert abs(int(n_syn) - 1e7) < 5 * np.sqrt(1e7)
