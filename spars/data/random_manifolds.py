"""Random-manifold spike-timing classification (Zenke & Vogels 2021), among distractors.

Each class ``c`` owns a random smooth map ``f_c: [0, 1]^D -> [0, 1]^n_informative``.
Every component is a product over the ``D`` latent axes of a random Fourier
series ``g(x) = sum_k a_k (k + 1)^-alpha sin(2 pi (k b_k x + c_k))``
(``a, b, c ~ U(0, 1)``, ``k = 1 .. K``; the constant ``k = 0`` term has no
amplitude), rescaled to ``[0, 1]`` over the class's manifold. A sample of
class ``c`` is a uniform latent point ``x``; informative channel ``i`` fires
one spike at ``t_max * f_c(x)_i`` plus Gaussian jitter. The ``alpha``
exponent sets how smooth (easy) the manifolds are, ``D`` how many latent
degrees of freedom a class has.

Unlike the original, the informative channels are hidden among ``n_units``
in all: every other channel is a *distractor* that fires one spike at a
uniform random time in ``[0, t_max)``. Every channel then fires exactly one
spike per trial, so no single channel's rate tells informative from
distractor; only the timing relative to other channels carries the class.
A network must find the informative channels, which is what sparse input
connectivity with rewiring can do and fixed random sparse connectivity
cannot.
"""

import math

import numpy as np

from .events import SpikeDataset

N_GRID = 2049  # points per latent axis that fix each component's [0, 1] range
CHUNK = 256  # latent points evaluated at once


def random_manifolds(
    n_samples: int,
    *,
    seed: int = 0,
    sample_seed: int = 1,
    n_units: int = 700,
    n_informative: int = 140,
    n_classes: int = 10,
    manifold_dim: int = 2,
    alpha: float = 2.0,
    n_frequencies: int = 32,
    t_max: float = 50.0,
    jitter: float = 1.0,
    duration: float = 80.0,
    distractor_probability: float = 1.0,
) -> SpikeDataset:
    """Samples of a random-manifold task (classes balanced, reproducible).

    Args:
        n_samples: number of samples.
        seed: the task: manifolds and which channels are informative. Train
            and test sets of one task share it.
        sample_seed: the samples (latent points, jitter, distractor times);
            use a different one for each split.
        n_units: input channels in all.
        n_informative: channels that carry the class, ``<= n_units``.
        n_classes: number of classes (manifolds).
        manifold_dim: latent dimension ``D`` of each manifold.
        alpha: spectral decay exponent of the random functions (> 0; larger
            is smoother, easier).
        n_frequencies: Fourier terms ``K`` per random function.
        t_max: spike times lie in ``[0, t_max)`` before jitter [ms].
        jitter: standard deviation of the Gaussian jitter of informative
            spikes [ms]; times are clipped to ``[0, duration)``.
        duration: trial length [ms], ``> t_max``.
        distractor_probability: chance that a distractor channel fires its
            one spike in a trial (1: every channel fires once; 0: distractors
            are silent).

    Returns:
        A :class:`SpikeDataset` with ``n_units`` channels.
    """
    _check(n_samples, n_units, n_informative, n_classes, manifold_dim, alpha,
           n_frequencies, t_max, jitter, duration, distractor_probability)  # fmt: skip
    task = np.random.default_rng([seed, 0])
    channels = np.sort(task.permutation(n_units)[:n_informative])
    params = task.uniform(size=(n_classes, 3, n_informative, manifold_dim, n_frequencies))
    ranges = [_value_range(p, alpha) for p in params]

    rng = np.random.default_rng([seed, 1, sample_seed])
    labels = np.arange(n_samples) % n_classes
    rng.shuffle(labels)
    times = rng.uniform(0.0, t_max, (n_samples, n_units))  # distractors
    latent = rng.uniform(size=(n_samples, manifold_dim))
    for c in range(n_classes):
        where = labels == c
        lo, hi = ranges[c]
        values = (_manifold(params[c], latent[where], alpha) - lo) / (hi - lo)
        times[np.ix_(where, channels)] = t_max * np.clip(values, 0.0, 1.0 - 1e-6)
    times[:, channels] += jitter * rng.standard_normal((n_samples, n_informative))
    times = np.clip(times, 0.0, np.nextafter(duration, 0.0))
    fires = rng.uniform(size=times.shape) < distractor_probability
    fires[:, channels] = True
    return SpikeDataset(
        times[fires].astype(np.float32),
        np.nonzero(fires)[1].astype(np.int32),
        np.concatenate([[0], np.cumsum(fires.sum(1))]).astype(np.int64),
        labels.astype(np.int32),
        n_units,
        n_classes,
        float(duration),
        f"random_manifolds(seed={seed}, sample_seed={sample_seed})",
    )


def informative_channels(seed: int = 0, n_units: int = 700, n_informative: int = 140):
    """The sorted informative channels of the task ``seed`` (as :func:`random_manifolds`)."""
    task = np.random.default_rng([seed, 0])
    return np.sort(task.permutation(n_units)[:n_informative])


def _axis_functions(params, x, alpha: float):
    """``g(x)`` per axis: ``float64[n_points, n_informative, D]`` for ``x [n_points, D]``.

    ``params``: ``[3, n_informative, D, K]`` amplitudes, frequency scales, phases.
    """
    amplitude, frequency, phase = params
    k = np.arange(1, params.shape[-1] + 1)
    weight = amplitude * (k + 1.0) ** -alpha  # [n_inf, D, K]
    out = np.empty((len(x), *params.shape[1:3]))
    for lo in range(0, len(x), CHUNK):
        angle = 2 * np.pi * (k * frequency * x[lo : lo + CHUNK, None, :, None] + phase)
        out[lo : lo + CHUNK] = np.sum(weight * np.sin(angle), axis=-1)
    return out


def _manifold(params, x, alpha: float):
    """``f(x) = prod_d g_d(x_d)``: ``float64[n_points, n_informative]``."""
    return np.prod(_axis_functions(params, x, alpha), axis=-1)


def _value_range(params, alpha: float):
    """Per-component ``(min, max)`` of ``f`` over ``[0, 1]^D``, never an empty range.

    ``f`` is a product of one-dimensional functions, so its extremes are
    products of the per-axis extremes (found on a grid of each axis).
    """
    grid = np.linspace(0.0, 1.0, N_GRID)[:, None].repeat(params.shape[2], 1)
    g = _axis_functions(params, grid, alpha)  # [N_GRID, n_inf, D]
    corners = np.stack([g.min(0), g.max(0)])  # [2, n_inf, D]
    choice = np.indices((2,) * params.shape[2]).reshape(params.shape[2], -1)  # [D, 2^D]
    products = np.prod(corners[choice, :, np.arange(params.shape[2])[:, None]], axis=0)
    lo, hi = products.min(0), products.max(0)
    return lo, np.maximum(hi, lo + 1e-12)


def _check(n_samples, n_units, n_informative, n_classes, manifold_dim, alpha,
           n_frequencies, t_max, jitter, duration, distractor_probability):  # fmt: skip
    if n_samples < 0 or n_units < 1 or n_classes < 1 or manifold_dim < 1 or n_frequencies < 1:
        raise ValueError(
            f"need n_samples >= 0 and n_units, n_classes, manifold_dim, n_frequencies >= 1, "
            f"got {n_samples=}, {n_units=}, {n_classes=}, {manifold_dim=}, {n_frequencies=}"
        )
    if not 1 <= n_informative <= n_units:
        raise ValueError(f"n_informative={n_informative} must lie in [1, n_units={n_units}]")
    if not 0 <= distractor_probability <= 1:
        raise ValueError(f"distractor_probability={distractor_probability} must lie in [0, 1]")
    if not (alpha > 0 and jitter >= 0 and 0 < t_max < duration) or not math.isfinite(duration):
        raise ValueError(
            f"need alpha > 0, jitter >= 0 and 0 < t_max < duration < inf, got "
            f"{alpha=}, {jitter=}, {t_max=}, {duration=}"
        )
