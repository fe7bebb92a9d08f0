"""Builders with a fixed number of synapses: per target (in-degree) or in total (NEST's rules).

Both draw from an explicit PRNG key in blocks (memory bounded by the block,
not by the projection), group the synapses by presynaptic row on the host
and, when multapses are allowed, return the multigraph as layers
(:mod:`spars.layers`).
"""

import math

import jax
import numpy as np

from .builders import _check_concrete, _check_sizes, _n_candidates, host_rng, k_subsets
from .connectivity import Connectivity
from .layers import layers_from_pairs, rows_from_pairs

_BLOCK = 2**24  # drawn values per block
Built = Connectivity | tuple[Connectivity, ...]


def fixed_in_degree(key, n_pre: int, n_post: int, k: int, *, multapses: bool = False,
                    autapses: bool = True, headroom: float = 1.0,
                    max_row: int | None = None) -> Built:  # fmt: skip
    """Each postsynaptic neuron receives exactly ``k`` synapses (NEST's ``fixed_indegree``).

    Args:
        key: PRNG key.
        n_pre, n_post: population sizes.
        k: synapses per target; at most the number of candidate sources
            without multapses.
        multapses: draw the ``k`` sources independently (a pair may repeat,
            NEST's default); False draws ``k`` distinct sources.
        autapses: if False, neuron i never connects to itself (``n_pre == n_post``).
        headroom, max_row: row capacity, as in :func:`spars.fixed_probability`.

    Returns:
        The connectivity; with ``multapses`` a tuple of layers
        (:func:`spars.layers_from_pairs`).
    """
    _check_concrete("fixed_in_degree", locals())
    _check_sizes(n_pre, n_post)
    m = _n_candidates(n_post, n_pre, autapses)  # candidate sources of one target
    if k < 0 or (not multapses and k > m) or (k > 0 and m == 0):
        raise ValueError(f"k must be in [0, {m}] for this projection, got {k}")
    rows = max(1, _BLOCK // max(k if multapses else _draws(m, k), 1))
    pre = []
    for b, start in enumerate(range(0, n_post, rows)):
        count, sub = min(rows, n_post - start), jax.random.fold_in(key, b)
        if multapses:
            drawn = host_rng(sub).integers(0, max(m, 1), (count, k), dtype=np.int32)
        else:
            drawn = k_subsets(sub, count, m, k)
        own = np.arange(start, start + count)[:, None]
        pre.append(drawn if autapses else drawn + (drawn >= own))
    pre = np.concatenate(pre).ravel() if pre else np.zeros(0, np.int32)
    post = np.repeat(np.arange(n_post, dtype=np.int32), k)
    build = layers_from_pairs if multapses else rows_from_pairs
    return build(pre, post, n_pre, n_post, headroom=headroom, max_row=max_row)


def fixed_total_number(key, n_pre: int, n_post: int, n: int, *, multapses: bool = True,
                       autapses: bool = True, headroom: float = 1.0,
                       max_row: int | None = None) -> Built:  # fmt: skip
    """Exactly ``n`` synapses between uniformly drawn pairs (NEST's ``fixed_total_number``).

    Args:
        key: PRNG key.
        n_pre, n_post: population sizes.
        n: total number of synapses (at most the number of pairs without
            multapses).
        multapses: pairs drawn independently (may repeat; NEST's default);
            False draws ``n`` distinct pairs.
        autapses: if False, no neuron connects to itself (``n_pre == n_post``).
        headroom, max_row: row capacity, as in :func:`spars.fixed_probability`.

    Returns:
        With ``multapses`` a tuple of layers, else the connectivity.
    """
    _check_concrete("fixed_total_number", locals())
    _check_sizes(n_pre, n_post)
    m = _n_candidates(n_pre, n_post, autapses)  # candidate targets of one source
    if n < 0 or (n > 0 and n_pre * m == 0) or (not multapses and n > n_pre * m):
        raise ValueError(f"n must be in [0, {n_pre * m}] for this projection, got {n}")
    pairs = _pairs(key, n, n_pre * m) if multapses else _distinct_pairs(key, n, n_pre * m)
    pre, target = pairs // max(m, 1), pairs % max(m, 1)
    post = target if autapses else target + (target >= pre)
    build = layers_from_pairs if multapses else rows_from_pairs
    return build(pre, post, n_pre, n_post, headroom=headroom, max_row=max_row)


def _draws(m: int, k: int) -> int:
    """Values held per row by ``k_subsets`` (its memory per row)."""
    k = min(k, m - k)
    return max(m, math.ceil(-m * math.log1p(-k / m) * 1.25) + 16) if m else 1


def _pairs(key, n: int, total: int) -> np.ndarray:
    """``n`` uniform pair ids in ``[0, total)`` (int64), in blocks."""
    out = [_uniform_ids(jax.random.fold_in(key, b), min(_BLOCK, n - start), total)
           for b, start in enumerate(range(0, n, _BLOCK))]  # fmt: skip
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _distinct_pairs(key, n: int, total: int) -> np.ndarray:
    """``n`` distinct uniform pair ids: draws with repeats, deduplicated, a random n kept."""
    k_draw, k_pick = jax.random.split(key)
    found, attempt = np.zeros(0, np.int64), 0
    while found.size < n:
        extra = _pairs(jax.random.fold_in(k_draw, attempt), 2 * (n - found.size) + 16, total)
        found = np.unique(np.concatenate([found, extra]))
        attempt += 1
    keep = host_rng(k_pick).permutation(found.size)[:n]
    return found[np.sort(keep)]


def _uniform_ids(key, count: int, total: int) -> np.ndarray:
    """``count`` uniform integers in ``[0, total)`` (int64)."""
    return host_rng(key).integers(0, total, count, dtype=np.int64)
