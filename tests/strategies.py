"""Hypothesis strategies for sparse matrices and spike arrays."""

import os

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

ON_CI = bool(os.environ.get("CI"))


def examples(n: int) -> settings:
    """``n`` examples per test, half of them (at least 3) on CI, where each example compiles."""
    return settings(max_examples=max(3, n // 2) if ON_CI else n)


@st.composite
def sparse_dense(draw, max_pre=12, max_post=12, allow_empty=True):
    """A dense float32 matrix with random sparsity: empty, full and single rows included."""
    n_pre = draw(st.integers(0 if allow_empty else 1, max_pre))
    n_post = draw(st.integers(1, max_post))
    seed = draw(st.integers(0, 2**31 - 1))
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_pre, n_post)).astype(np.float32)
    w[rng.random((n_pre, n_post)) >= density] = 0.0
    if n_pre and draw(st.booleans()):
        w[rng.integers(n_pre)] = rng.normal(size=n_post) + 3.0  # one full row
    return w


@st.composite
def spike_array(draw, batch, n_pre):
    """Spikes of shape (*batch, n_pre): none, all, or a random fraction."""
    seed = draw(st.integers(0, 2**31 - 1))
    rate = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    graded = draw(st.booleans())
    rng = np.random.default_rng(seed)
    s = (rng.random((*batch, n_pre)) < rate).astype(np.float32)
    return s * rng.uniform(0.5, 2.0, s.shape).astype(np.float32) if graded else s
