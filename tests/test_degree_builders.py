"""Fixed in-degree and fixed total number builders, and multapse layers, against counts."""

from collections import Counter

import jax
import numpy as np
import pytest
from scipy import stats

import spars


def pairs_of(layers) -> Counter:
    """Multiset of (pre, post) pairs over one connectivity or a tuple of layers."""
    layers = layers if isinstance(layers, tuple) else (layers,)
    found = Counter()
    for conn in layers:
        spars.validate(conn)
        pre, post, _ = spars.to_coo(conn)
        found.update(zip(np.asarray(pre).tolist(), np.asarray(post).tolist(), strict=True))
    return found


def uniform(counts, p_min=1e-3) -> bool:
    """Chi-square test of equal expected counts."""
    return stats.chisquare(counts).pvalue > p_min


@pytest.mark.parametrize("multapses", [False, True])
@pytest.mark.parametrize("n_pre, n_post, k, autapses", [
    (60, 40, 7, True), (50, 50, 30, False), (30, 20, 30, True), (40, 40, 39, False)])
def test_fixed_in_degree_gives_every_target_k_uniform_sources(n_pre, n_post, k, autapses,
                                                              multapses):  # fmt: skip
    if k > n_pre - (not autapses) and not multapses:
        pytest.skip("more sources than candidates")
    built = spars.fixed_in_degree(jax.random.key(0), n_pre, n_post, k, multapses=multapses,
                                  autapses=autapses)  # fmt: skip
    assert isinstance(built, tuple) == multapses
    found = pairs_of(built)
    per_target = Counter()
    for (pre, post), times in found.items():
        per_target[post] += times
        assert autapses or pre != post
        assert multapses or times == 1
    assert all(per_target[j] == k for j in range(n_post))
    sources = np.bincount([pre for (pre, _), t in found.items() for _ in range(t)], minlength=n_pre)
    assert uniform(sources)


def test_fixed_in_degree_multapses_repeat_pairs_as_often_as_independent_draws():
    layers = spars.fixed_in_degree(jax.random.key(1), 5, 400, 6, multapses=True)
    found = pairs_of(layers)
    repeats = np.bincount(list(found.values()), minlength=7)[1:]  # pairs seen 1, 2, ... times
    p = stats.binom.pmf(np.arange(1, 7), 6, 1 / 5)  # per pair: Binomial(6, 1/5)
    expected = 400 * 5 * p
    assert len(layers) >= 3 and abs(repeats[1] - expected[1]) < 5 * np.sqrt(expected[1])


@pytest.mark.parametrize("multapses, autapses", [(True, True), (False, False), (True, False)])
def test_fixed_total_number_draws_n_uniform_pairs(multapses, autapses):
    n_pre, n_post, n = 30, 30, 2000 if multapses else 600
    built = spars.fixed_total_number(jax.random.key(2), n_pre, n_post, n, multapses=multapses,
                                     autapses=autapses)  # fmt: skip
    found = pairs_of(built)
    assert sum(found.values()) == n
    assert multapses or max(found.values()) == 1
    assert autapses or all(pre != post for pre, post in found)
    pre = np.repeat([p for p, _ in found], list(found.values()))
    post = np.repeat([q for _, q in found], list(found.values()))
    assert uniform(np.bincount(pre, minlength=n_pre))
    assert uniform(np.bincount(post, minlength=n_post))


def test_builders_are_reproducible_and_reject_bad_counts():
    a = spars.fixed_total_number(jax.random.key(3), 10, 12, 50)
    b = spars.fixed_total_number(jax.random.key(3), 10, 12, 50)
    assert pairs_of(a) == pairs_of(b) != pairs_of(spars.fixed_total_number(
        jax.random.key(4), 10, 12, 50))  # fmt: skip
    with pytest.raises(ValueError, match=r"k must be in \[0, 9\]"):
        spars.fixed_in_degree(jax.random.key(0), 10, 10, 10, autapses=False)
    with pytest.raises(ValueError, match=r"n must be in \[0, 120\]"):
        spars.fixed_total_number(jax.random.key(0), 10, 12, 121, multapses=False)
    with pytest.raises(ValueError, match="traced"):
        jax.jit(lambda k: spars.fixed_in_degree(jax.random.key(0), 10, 10, k))(3)


def test_empty_projections():
    assert spars.fixed_in_degree(jax.random.key(0), 10, 0, 3).shape == (10, 0)
    assert int(spars.fixed_in_degree(jax.random.key(0), 10, 5, 0).n_synapses) == 0
    (empty,) = spars.fixed_total_number(jax.random.key(0), 4, 6, 0)
    assert empty.shape == (4, 6) and int(empty.n_synapses) == 0


def test_layers_from_pairs_equals_a_counter_and_rows_refuse_repeats():
    rng = np.random.default_rng(0)
    pre, post = rng.integers(0, 6, 200), rng.integers(0, 5, 200)
    layers = spars.layers_from_pairs(pre, post, 6, 5, headroom=1.5)
    assert pairs_of(layers) == Counter(zip(pre.tolist(), post.tolist(), strict=True))
    assert layers[-1].max_row == int(np.ceil(1.5 * int(layers[-1].row_length.max())))
    assert layers[0].max_row == 5  # capped at n_post: a row holds each target once
    for conn in layers:  # targets ascending within rows
        idx = np.where(np.asarray(conn.mask), np.asarray(conn.indices), 99)
        assert np.all(np.diff(idx, axis=1) >= 0)
    with pytest.raises(ValueError, match="repeated"):
        spars.rows_from_pairs([0, 0], [1, 1], 2, 2)
