"""The Yin-Yang task (Kriener, Göltz & Petrovici 2022), generated from its definition.

Points ``(x, y)`` are drawn uniformly in the unit disc's bounding square,
kept inside the big circle (radius 0.5, centre (0.5, 0.5)), and labelled
yang (0), yin (1) or dot (2); classes are balanced by drawing the class
first and rejection-sampling a point of that class. A linear classifier
reaches about 64% on it and a small multi-layer network about 97%.

For spiking networks each coordinate is population-coded: ``n_per_axis``
input neurons with evenly spaced preferred values fire one spike each, the
earlier the closer the coordinate is to their preference (no spike beyond
``reach`` tuning widths).
"""

import numpy as np

from .events import SpikeDataset, from_samples

R_BIG, R_SMALL = 0.5, 0.1


def yin_yang_class(x, y):
    """Class of each point: 0 yang, 1 yin, 2 dot (both arrays in [0, 1])."""
    d_right = np.hypot(x - 1.5 * R_BIG, y - R_BIG)
    d_left = np.hypot(x - 0.5 * R_BIG, y - R_BIG)
    in_dot = (d_right < R_SMALL) | (d_left < R_SMALL)
    is_yin = (
        (d_right <= R_SMALL)
        | ((d_left > R_SMALL) & (d_left <= 0.5 * R_BIG))
        | ((y > R_BIG) & (d_right > 0.5 * R_BIG))
    )
    return np.where(in_dot, 2, is_yin.astype(int))


def yin_yang_points(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(points float32[n, 2], labels int32[n])``, balanced classes, reproducible."""
    rng = np.random.default_rng(seed)
    wanted = rng.integers(0, 3, n_samples)
    points = np.empty((n_samples, 2))
    todo = np.arange(n_samples)
    while todo.size:
        xy = rng.uniform(0.0, 2 * R_BIG, (todo.size, 2))
        inside = np.hypot(xy[:, 0] - R_BIG, xy[:, 1] - R_BIG) <= R_BIG
        hit = inside & (yin_yang_class(xy[:, 0], xy[:, 1]) == wanted[todo])
        points[todo[hit]] = xy[hit]
        todo = todo[~hit]
    return points.astype(np.float32), wanted.astype(np.int32)


def latency_code(points, n_per_axis: int, t_max: float, reach: float = 3.0):
    """Population latency code: per sample, the (times [ms], units) of its spikes.

    Neuron ``a * n_per_axis + m`` prefers value ``m / (n_per_axis - 1)`` on
    axis ``a``; with tuning width ``sigma = 1 / (n_per_axis - 1)`` it fires at
    ``t_max * d / (reach * sigma)`` for a distance ``d < reach * sigma``.
    """
    centres = np.linspace(0.0, 1.0, n_per_axis)
    sigma = 1.0 / (n_per_axis - 1)
    d = np.abs(points[:, :, None] - centres)  # [n, 2, n_per_axis]
    times, units = [], []
    for dist in d.reshape(len(points), -1):
        fire = np.flatnonzero(dist < reach * sigma)
        times.append(t_max * dist[fire] / (reach * sigma))
        units.append(fire)
    return times, units


def yin_yang(
    n_samples: int = 5000,
    seed: int = 42,
    *,
    n_per_axis: int = 50,
    t_max: float = 20.0,
    duration: float = 30.0,
) -> SpikeDataset:
    """Latency-coded Yin-Yang samples (``2 * n_per_axis`` inputs, 3 classes).

    Args:
        n_samples: number of samples.
        seed: generator seed; the customary splits are 42 (train, 5000),
            41 (validation, 1000) and 40 (test, 1000).
        n_per_axis: input neurons per coordinate.
        t_max: latest input spike [ms].
        duration: trial length [ms].
    """
    if n_per_axis < 2 or not 0 < t_max < duration:
        raise ValueError(
            f"need n_per_axis >= 2 and 0 < t_max < duration, got "
            f"{n_per_axis=}, {t_max=}, {duration=}"
        )
    points, labels = yin_yang_points(n_samples, seed)
    times, units = latency_code(points, n_per_axis, t_max)
    return from_samples(
        times,
        units,
        labels,
        n_units=2 * n_per_axis,
        n_classes=3,
        duration=duration,
        name=f"yin_yang(seed={seed})",
    )
