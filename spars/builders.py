"""Random connectivity builders (GeNN's FixedProbability and friends).

Every builder draws from an explicit PRNG key, is reproducible, never
materialises an ``n_pre x n_post`` array, and sizes rows from the data drawn
(times ``headroom``) unless an explicit ``max_row`` is given. They run eagerly:
row capacity is a shape, so it must be known before a jitted step uses it.
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import is_concrete
from ._grid import periodic, scaled_position
from ._rows import compact
from .connectivity import Connectivity, capacity

_INT32_MAX = 2**31 - 1


def fixed_probability(
    key,
    n_pre: int,
    n_post: int,
    p: float,
    *,
    headroom: float = 1.0,
    max_row: int | None = None,
    autapses: bool = True,
) -> Connectivity:
    """Each (pre, post) pair is connected independently with probability ``p``.

    Rows are drawn by geometric skipping (the gaps between successive targets
    are Geometric(p)), so cost and memory grow with ``n_pre * max_row``, not
    ``n_pre * n_post``. Targets are ascending within a row.

    Args:
        key: PRNG key.
        n_pre, n_post: population sizes.
        p: connection probability in [0, 1].
        headroom: row capacity factor over the longest drawn row (capped
            at ``n_post``, the most a row can ever hold); for a capacity from
            a quantile of the row lengths, see ``spars.structure.cap_rows``.
        max_row: explicit row capacity (error if a drawn row is longer).
        autapses: if False, neuron i never targets neuron i (needs
            ``n_pre == n_post``; each of the other pairs still has probability p).

    Returns:
        The connectivity.
    """
    _check_concrete('fixed_probability', locals())
    _check_sizes(n_pre, n_post)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    m = _n_candidates(n_pre, n_post, autapses)
    if p == 0.0 or m == 0:
        return _from_prefix_rows(np.full((n_pre, 0), n_post, np.int32), n_post, headroom, max_row)
    mean, sd = m * p, math.sqrt(m * p * (1.0 - p))
    block = min(math.ceil(mean + 7.0 * sd + 8.0), max(1, _INT32_MAX // (2 * (m + 1))))
    blocks, last = [], jnp.full((n_pre,), -1, jnp.int32)
    while bool(jnp.any(last < m - 1)) or not blocks:
        positions = _geometric_block(jax.random.fold_in(key, len(blocks)), last, p, m, block)
        blocks.append(positions)
        last = jnp.minimum(positions[:, -1], m)
    positions = jnp.concatenate(blocks, axis=1)
    targets = _skip_self(positions, m, autapses)
    return _from_prefix_rows(jnp.where(positions < m, targets, n_post), n_post, headroom, max_row)


@partial(jax.jit, static_argnames=("m", "block"))
def _geometric_block(key, start, p, m: int, block: int):
    """Next ``block`` Bernoulli(p) successes after ``start`` in each row, capped at m."""
    u = 1.0 - jax.random.uniform(key, (start.shape[0], block))
    gaps = jnp.floor(jnp.log(u) / jnp.log1p(-p)) + 1.0
    gaps = jnp.minimum(gaps, m + 1).astype(jnp.int32)
    return start[:, None] + jnp.cumsum(gaps, axis=1)


def fixed_number_post(
    key,
    n_pre: int,
    n_post: int,
    k: int,
    *,
    headroom: float = 1.0,
    max_row: int | None = None,
    autapses: bool = True,
) -> Connectivity:
    """Each presynaptic neuron connects to exactly ``k`` distinct targets.

    Targets are a uniformly random k-subset per row (no repeats), ascending.

    Args:
        key: PRNG key.
        n_pre, n_post: population sizes.
        k: synapses per row, ``0 <= k <= n_post`` (``n_post - 1`` without autapses).
        headroom, max_row: row capacity, as in :func:`fixed_probability`.
        autapses: if False, neuron i never targets neuron i.

    Returns:
        The connectivity.
    """
    _check_concrete('fixed_number_post', locals())
    _check_sizes(n_pre, n_post)
    m = _n_candidates(n_pre, n_post, autapses)
    if not 0 <= k <= m:
        raise ValueError(f"k must be in [0, {m}] for this projection, got {k}")
    chosen = k_subsets(key, n_pre, m, k)
    return _from_prefix_rows(_skip_self(chosen, m, autapses), n_post, headroom, max_row)


def k_subsets(key, n_rows: int, n: int, k: int) -> np.ndarray:
    """``int32[n_rows, k]`` ascending uniform k-subsets of ``range(n)``, any ``0 <= k <= n``.

    Random numbers come from ``key``; the set logic runs in NumPy (no
    compilation per shape).
    """
    if 2 * k <= n:
        return _distinct_subsets(key, n_rows, n, k)
    kept = np.ones((n_rows, n), bool)
    kept[np.arange(n_rows)[:, None], _distinct_subsets(key, n_rows, n, n - k)] = False
    return np.nonzero(kept)[1].reshape(n_rows, k).astype(np.int32)


def _distinct_subsets(key, n_rows: int, n: int, k: int) -> np.ndarray:
    """``int32[n_rows, k]`` ascending uniform k-subsets of ``range(n)`` (2k <= n).

    Draws with replacement, keeps the distinct values and picks a uniformly
    random k of them; by symmetry every k-subset is equally likely. Rows that
    drew fewer than k distinct values are drawn again with a fresh key.
    """
    out = np.zeros((n_rows, k), np.int32)
    if k == 0:
        return out
    draws = math.ceil(-n * math.log1p(-k / n) * 1.25) + 16
    todo, attempt = np.arange(n_rows), 0
    while todo.size:
        subset, ok = _subset_attempt(jax.random.fold_in(key, attempt), todo.size, n, k, draws)
        out[todo[ok]] = subset[ok]
        todo, attempt = todo[~ok], attempt + 1
    return out


def host_rng(key) -> np.random.Generator:
    """A NumPy generator seeded by a JAX PRNG key: host draws, reproducible, no compilation."""
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.random.default_rng(np.asarray(data, np.uint32).ravel().tolist())


def _subset_attempt(key, n_rows: int, n: int, k: int, draws: int):
    """One try per row: ``(k-subsets, whether the row drew k distinct values)``."""
    rng = host_rng(key)
    values = np.sort(rng.integers(0, n, (n_rows, draws), dtype=np.int32), axis=1)
    first = np.ones(values.shape, bool)
    first[:, 1:] = values[:, 1:] != values[:, :-1]
    priority = np.where(first, rng.random(values.shape, np.float32), 2.0)
    picked = np.take_along_axis(values, np.argsort(priority, axis=1)[:, :k], axis=1)
    return np.sort(picked, axis=1).astype(np.int32), first.sum(axis=1) >= k


def gaussian_grid(
    key,
    pre_shape: tuple[int, int],
    post_shape: tuple[int, int],
    p_peak: float,
    sigma: float,
    *,
    headroom: float = 1.0,
    max_row: int | None = None,
    autapses: bool = True,
    cutoff: float = 7.0,
    rows_per_block: int = 4096,
) -> Connectivity:
    """Distance-dependent connectivity between two 2-D grids on a torus.

    Neuron ``i`` of a grid of shape ``(h, w)`` sits at row ``i // w``, column
    ``i % w``. Presynaptic positions are scaled onto the postsynaptic grid, and
    each pair is connected with probability ``p_peak * exp(-d^2 / 2 sigma^2)``,
    ``d`` the periodic (toroidal) distance in postsynaptic grid units.

    Only postsynaptic neurons within ``cutoff * sigma`` (per axis) of the
    presynaptic position are drawn: pairs further out, where the probability
    is below ``p_peak * exp(-cutoff^2 / 2)`` (2.3e-11 p_peak at the default),
    are never connected. A window wider than the grid covers it exactly once.

    Args:
        key: PRNG key.
        pre_shape, post_shape: ``(rows, cols)`` of the two grids.
        p_peak: connection probability at distance 0, in [0, 1].
        sigma: width of the Gaussian [postsynaptic grid units].
        headroom, max_row: row capacity, as in :func:`fixed_probability`.
        autapses: if False, neuron i never targets neuron i (equal grids only).
        cutoff: window half-width in units of sigma.
        rows_per_block: presynaptic rows drawn at a time (bounds memory).

    Returns:
        The connectivity, targets ascending within each row.
    """
    n_pre, n_post = math.prod(pre_shape), math.prod(post_shape)
    _check_concrete('gaussian_grid', locals())
    _check_sizes(n_pre, n_post)
    if not 0.0 <= p_peak <= 1.0 or sigma <= 0.0:
        raise ValueError(f"need 0 <= p_peak <= 1 and sigma > 0, got {p_peak=}, {sigma=}")
    if not autapses and tuple(pre_shape) != tuple(post_shape):
        raise ValueError("autapses=False needs equal pre and post grids")
    radius = math.ceil(cutoff * sigma)
    offsets = [_window_offsets(size, radius) for size in post_shape]
    rows = []
    for b, start in enumerate(range(0, n_pre, rows_per_block)):
        pre = jnp.arange(start, min(start + rows_per_block, n_pre), dtype=jnp.int32)
        keep, targets = _grid_block(
            jax.random.fold_in(key, b),
            pre,
            tuple(pre_shape),
            tuple(post_shape),
            p_peak,
            sigma,
            offsets[0],
            offsets[1],
            autapses,
        )
        length, block = compact(keep, keep.shape[1], targets, fills=n_post)
        rows.append(np.asarray(block[:, : int(jnp.max(length, initial=0))]))
    width = max((r.shape[1] for r in rows), default=0)
    padded = np.concatenate([_pad_cols(r, width, n_post) for r in rows] or [np.zeros((0, 0))])
    return _from_prefix_rows(np.sort(padded, axis=1), n_post, headroom, max_row)


def _window_offsets(size: int, radius: int) -> np.ndarray:
    if 2 * radius + 1 >= size:
        return np.arange(size) - size // 2
    return np.arange(-radius, radius + 1)


@partial(jax.jit, static_argnames=("pre_shape", "post_shape", "autapses"))
def _grid_block(key, pre, pre_shape, post_shape, p_peak, sigma, dy, dx, autapses):
    h, w = post_shape
    y, x = scaled_position(pre, pre_shape, post_shape)
    cand_y = (jnp.round(y)[:, None, None].astype(jnp.int32) + dy[None, :, None]) % h
    cand_x = (jnp.round(x)[:, None, None].astype(jnp.int32) + dx[None, None, :]) % w
    dist_y = periodic(cand_y - y[:, None, None], h)
    dist_x = periodic(cand_x - x[:, None, None], w)
    prob = p_peak * jnp.exp(-(dist_y**2 + dist_x**2) / (2.0 * sigma**2))
    targets = (cand_y * w + cand_x).reshape(pre.shape[0], -1)
    keep = jax.random.uniform(key, targets.shape) < prob.reshape(targets.shape)
    if not autapses:
        keep = keep & (targets != pre[:, None])
    return keep, targets


def _pad_cols(rows: np.ndarray, width: int, fill: int) -> np.ndarray:
    out = np.full((rows.shape[0], width), fill, np.int32)
    out[:, : rows.shape[1]] = rows
    return out


def _check_concrete(builder: str, arguments: dict) -> None:
    traced = sorted(k for k, v in arguments.items() if not is_concrete(v))
    if traced:
        raise ValueError(
            f"{builder} got traced {traced} (inside jit or vmap): a builder's row capacity "
            "depends on its draw, so it runs eagerly; build each network's connectivity in a "
            "Python loop and stack them (jax.tree.map(lambda *x: jnp.stack(x), *conns)) with "
            "a common max_row="
        )


def _check_sizes(n_pre: int, n_post: int) -> None:
    if n_pre < 0 or n_post < 0:
        raise ValueError(f"population sizes must be >= 0, got {n_pre=}, {n_post=}")
    if n_post >= _INT32_MAX:
        raise ValueError(f"n_post={n_post} does not fit int32 indices")


def _n_candidates(n_pre: int, n_post: int, autapses: bool) -> int:
    if autapses:
        return n_post
    if n_pre != n_post:
        raise ValueError(f"autapses=False needs n_pre == n_post, got {n_pre=}, {n_post=}")
    return max(n_post - 1, 0)


def _skip_self(targets, m: int, autapses: bool):
    """Maps draws from ``range(n_post - 1)`` to targets that skip the row's own index."""
    if autapses:
        return targets
    row = jnp.arange(targets.shape[0], dtype=targets.dtype)[:, None]
    return jnp.where(targets < m, targets + (targets >= row), targets)


def _from_prefix_rows(indices, n_post: int, headroom: float, max_row: int | None):
    """Connectivity from rows whose real targets are a prefix, sentinel after."""
    indices = np.asarray(indices, np.int32)
    length = np.sum(indices < n_post, axis=1).astype(np.int32)
    width = capacity(int(length.max(initial=0)), headroom, max_row)
    if max_row is None:
        width = min(width, n_post)  # a row holds each target at most once
    return Connectivity(_pad_cols(indices[:, :width], width, n_post), length, n_post)
