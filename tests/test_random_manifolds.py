import numpy as np
import pytest

from spars import data


def spike_times(ds) -> np.ndarray:
    """``[n_samples, n_units]`` time of each channel's spike, NaN where it is silent."""
    out = np.full((len(ds), ds.n_units), np.nan)
    for s in range(len(ds)):
        lo, hi = ds.offsets[s], ds.offsets[s + 1]
        assert len(np.unique(ds.units[lo:hi])) == hi - lo  # at most one spike per channel
        out[s, ds.units[lo:hi]] = ds.times[lo:hi]
    return out


def naive_function(amplitude, frequency, phase, x, alpha):
    """One component ``prod_d sum_k a s_k sin(2 pi (k b x_d + c))`` at points ``x [n, D]``."""
    value = np.ones(len(x))
    for d in range(x.shape[1]):
        total = np.zeros(len(x))
        for k in range(1, amplitude.shape[-1] + 1):
            a, b, c = amplitude[d, k - 1], frequency[d, k - 1], phase[d, k - 1]
            total += a * (k + 1.0) ** -alpha * np.sin(2 * np.pi * (k * b * x[:, d] + c))
        value *= total
    return value


def test_informative_spikes_are_the_normalised_manifold_point():
    """Without jitter, t = t_max (f_c(x) - min f_c) / (max f_c - min f_c) on each channel."""
    kw = dict(n_units=12, n_informative=3, n_classes=2, manifold_dim=2, n_frequencies=5,
              t_max=40.0, jitter=0.0, duration=50.0)  # fmt: skip
    ds = data.random_manifolds(200, seed=3, sample_seed=9, **kw)
    times = spike_times(ds)[:, data.informative_channels(3, 12, 3)]
    task = np.random.default_rng([3, 0])  # the draws the definition makes, in order
    task.permutation(12)
    params = task.uniform(size=(2, 3, 3, 2, 5))
    rng = np.random.default_rng([3, 1, 9])
    labels = np.arange(200) % 2
    rng.shuffle(labels)
    rng.uniform(size=(200, 12))
    latent = rng.uniform(size=(200, 2))
    np.testing.assert_array_equal(ds.labels, labels)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 401)] * 2), -1).reshape(-1, 2)
    for c in range(2):
        where = labels == c
        for i in range(3):
            on_grid = naive_function(*params[c][:, i], grid, 2.0)
            lo, hi = on_grid.min(), on_grid.max()
            raw = naive_function(*params[c][:, i], latent[where], 2.0)
            expected = 40.0 * (raw - lo) / (hi - lo)
            np.testing.assert_allclose(times[where, i], expected, atol=0.02 * 40.0)


def test_every_channel_fires_at_most_once_and_distractors_as_asked():
    ds = data.random_manifolds(300, n_units=50, n_informative=10, distractor_probability=0.3)
    times = spike_times(ds)
    informative = data.informative_channels(0, 50, 10)
    assert not np.isnan(times[:, informative]).any()
    distractors = np.setdiff1d(np.arange(50), informative)
    fired = ~np.isnan(times[:, distractors])
    assert abs(fired.mean() - 0.3) < 0.02
    assert np.all(times[~np.isnan(times)] < ds.duration)
    silent = data.random_manifolds(10, n_units=50, n_informative=10, distractor_probability=0.0)
    assert np.all(np.isin(silent.units, informative))
    assert np.bincount(ds.labels).tolist() == [30] * 10  # balanced


def test_splits_share_the_task_and_seeds_reproduce():
    a = data.random_manifolds(40, n_units=30, n_informative=5, sample_seed=1)
    again = data.random_manifolds(40, n_units=30, n_informative=5, sample_seed=1)
    other = data.random_manifolds(40, n_units=30, n_informative=5, sample_seed=2)
    np.testing.assert_array_equal(a.times, again.times)
    assert not np.array_equal(a.times, other.times)
    np.testing.assert_array_equal(
        data.informative_channels(0, 30, 5), data.informative_channels(0, 30, 5)
    )
    assert not np.array_equal(data.informative_channels(0, 30, 5),
                              data.informative_channels(1, 30, 5))  # fmt: skip


def nearest_centroid_accuracy(train, test, channels) -> float:
    tr, te = spike_times(train)[:, channels], spike_times(test)[:, channels]
    centroids = np.stack([tr[train.labels == c].mean(0) for c in range(train.n_classes)])
    guess = np.argmin(((te[:, None] - centroids[None]) ** 2).sum(-1), 1)
    return float(np.mean(guess == test.labels))


def test_only_the_informative_channels_carry_the_class():
    kw = dict(n_units=200, n_informative=40, n_classes=4, distractor_probability=1.0)
    train = data.random_manifolds(800, sample_seed=1, **kw)
    test = data.random_manifolds(400, sample_seed=2, **kw)
    informative = data.informative_channels(0, 200, 40)
    distractors = np.setdiff1d(np.arange(200), informative)
    assert nearest_centroid_accuracy(train, test, informative) > 0.7
    assert nearest_centroid_accuracy(train, test, distractors) < 0.25 + 0.1


@pytest.mark.parametrize(
    ("kw", "match"),
    [(dict(n_informative=0), "n_informative"), (dict(n_informative=701), "n_informative"),
     (dict(t_max=90.0), "t_max < duration"), (dict(alpha=0.0), "alpha > 0"),
     (dict(jitter=-1.0), "jitter"), (dict(distractor_probability=1.5), "distractor_probability"),
     (dict(n_classes=0), "n_classes"), (dict(manifold_dim=0), "manifold_dim")],
)  # fmt: skip
def test_bad_task_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        data.random_manifolds(10, **kw)
