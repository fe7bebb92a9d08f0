import h5py
import numpy as np
import pytest

from spars import data


def naive_frames(dataset, samples, dt):
    out = np.zeros((dataset.n_steps(dt), len(samples), dataset.n_units), np.float32)
    for b, s in enumerate(samples):
        lo, hi = dataset.offsets[s], dataset.offsets[s + 1]
        for t, u in zip(dataset.times[lo:hi], dataset.units[lo:hi], strict=True):
            if int(np.floor(t / dt)) < out.shape[0]:
                out[int(np.floor(t / dt)), b, u] += 1
    return out


def small_dataset():
    times = [[0.0, 0.4, 2.5, 9.9], [], [3.0, 3.2, 12.0]]
    units = [[1, 1, 0, 3], [], [2, 2, 0]]
    return data.from_samples(
        times, units, [2, 0, 1], n_units=4, n_classes=3, duration=10.0, name="small"
    )


def test_frames_count_events_per_bin():
    ds = small_dataset()
    frames = ds.frames([2, 0, 1], dt=1.0)
    assert frames.shape == (10, 3, 4)
    np.testing.assert_array_equal(frames, naive_frames(ds, [2, 0, 1], 1.0))
    assert frames[0, 1, 1] == 2 and frames[3, 0, 2] == 2  # two events in one bin
    assert frames.sum() == 6  # the event at 12 ms lies after the 10 ms trial


def test_subset_keeps_events_and_labels():
    ds = small_dataset()
    sub = ds.subset([2, 0])
    np.testing.assert_array_equal(sub.labels, [1, 2])
    np.testing.assert_array_equal(sub.frames([0, 1], 0.5), ds.frames([2, 0], 0.5))


def test_bad_events_are_named():
    with pytest.raises(ValueError, match="unit 4"):
        data.from_samples([[1.0]], [[4]], [0], n_units=4, n_classes=1, duration=5, name="x")
    with pytest.raises(ValueError, match="label 3"):
        data.from_samples([[1.0]], [[0]], [3], n_units=4, n_classes=3, duration=5, name="x")
    with pytest.raises(ValueError, match="finite"):
        data.from_samples([[np.nan]], [[0]], [0], n_units=1, n_classes=1, duration=5, name="x")
    with pytest.raises(ValueError, match="sample 0 has 2 times but 1 units"):
        data.from_samples([[1.0, 2.0]], [[0]], [0], n_units=1, n_classes=1, duration=5, name="x")


@pytest.mark.parametrize(
    ("x", "y", "label"),
    [(0.75, 0.5, 2), (0.25, 0.5, 2), (0.5, 0.9, 1), (0.5, 0.1, 0), (0.25, 0.7, 1), (0.75, 0.3, 0)],
)
def test_yin_yang_classes_by_hand(x, y, label):
    assert data.yin_yang_class(np.array(x), np.array(y)) == label


def test_yin_yang_points_balanced_inside_and_reproducible():
    points, labels = data.yin_yang_points(3000, seed=7)
    assert np.all(np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5)
    np.testing.assert_array_equal(data.yin_yang_class(points[:, 0], points[:, 1]), labels)
    assert np.all(np.abs(np.bincount(labels) / 3000 - 1 / 3) < 0.03)
    again, _ = data.yin_yang_points(3000, seed=7)
    np.testing.assert_array_equal(points, again)


def test_yin_yang_latency_code_by_hand():
    from spars.data.yin_yang import latency_code

    times, units = latency_code(np.array([[0.0, 1.0]]), n_per_axis=4, t_max=30.0, reach=1.5)
    # sigma = 1/3: x = 0 reaches units 0 (d=0) and 1 (d=1/3 -> 30 * (1/3) / 0.5 = 20 ms)
    np.testing.assert_array_equal(units[0], [0, 1, 6, 7])
    np.testing.assert_allclose(times[0], [0.0, 20.0, 20.0, 0.0], atol=1e-9)
    ds = data.yin_yang(30, seed=1, n_per_axis=10, t_max=5.0, duration=8.0)
    assert ds.n_units == 20 and ds.n_classes == 3 and ds.frames(np.arange(30), 1.0).shape[0] == 8


def write_shd(path, times, units, labels):
    with h5py.File(path, "w") as f:
        vlen_f = h5py.vlen_dtype(np.float32)
        vlen_u = h5py.vlen_dtype(np.uint16)
        f.create_dataset("spikes/times", (len(times),), dtype=vlen_f)[:] = [
            np.asarray(t, np.float32) for t in times
        ]
        f.create_dataset("spikes/units", (len(units),), dtype=vlen_u)[:] = [
            np.asarray(u, np.uint16) for u in units
        ]
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


def test_shd_file_round_trip(tmp_path):
    path = tmp_path / "shd_test.h5"
    write_shd(path, [[0.0005, 0.0021, 0.0021], [0.0104]], [[3, 699, 699], [0]], [19, 4])
    ds = data.load_shd(path)
    assert (ds.n_units, ds.n_classes, len(ds), ds.duration) == (700, 20, 2, 11.0)
    frames = ds.frames([0, 1], dt=1.0)
    assert frames.shape == (11, 2, 700)
    assert frames[0, 0, 3] == 1 and frames[2, 0, 699] == 2 and frames[10, 1, 0] == 1
    assert frames.sum() == 4
    np.testing.assert_array_equal(ds.labels, [19, 4])


def test_shd_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5.*spikes/times"):
        data.load_shd(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(2))
        f.create_dataset("spikes/units", data=np.zeros(2))
    with pytest.raises(ValueError, match="nolabels.h5: missing dataset 'labels'"):
        data.load_shd(tmp_path / "nolabels.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="junk.h5: not a readable HDF5"):
        data.load_ssc(tmp_path / "junk.h5")
    write_shd(tmp_path / "short.h5", [[0.001]], [[1]], [0, 1])
    with pytest.raises(ValueError, match="1 spikes/times, 1 spikes/units and 2 labels"):
        data.load_shd(tmp_path / "short.h5")
    write_shd(tmp_path / "wide.h5", [[0.001]], [[700]], [0])
    with pytest.raises(ValueError, match="unit 700"):
        data.load_shd(tmp_path / "wide.h5")


class FakeTonic:
    """Two samples in tonic's event format on a 4 x 3 x 2 sensor."""

    sensor_size = (4, 3, 2)
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])

    def __len__(self):
        return 2

    def __getitem__(self, i):
        rows = [[(3, 2, 1500, 1), (0, 0, 0, 0)], [(1, 1, 999, 0)]][i]
        return np.array(rows, self.dtype), [7, 2][i]


def test_from_tonic_flattens_polarity_y_x():
    ds = data.from_tonic(FakeTonic(), n_classes=10, duration=2.0)
    assert ds.n_units == 24
    np.testing.assert_array_equal(ds.units, [(1 * 3 + 2) * 4 + 3, 0, 1 * 4 + 1])
    np.testing.assert_allclose(ds.times, [1.5, 0.0, 0.999])
    pooled = data.from_tonic(FakeTonic(), n_classes=10, duration=2.0, pool=2)
    assert pooled.n_units == 2 * 2 * 2
    np.testing.assert_array_equal(pooled.units, [(1 * 2 + 1) * 2 + 1, 0, 0])


def test_from_tonic_rejects_other_event_formats():
    class NoPolarity(FakeTonic):
        def __getitem__(self, i):
            return np.zeros(2, [("x", int), ("y", int), ("t", int)]), 0

    with pytest.raises(ValueError, match=r"lack fields \['p'\]"):
        data.from_tonic(NoPolarity(), n_classes=2, duration=1.0)


def test_tonic_loaders_explain_a_missing_tonic(tmp_path):
    try:
        import tonic  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install tonic"):
            data.load_nmnist(tmp_path)
    else:
        pytest.skip("tonic is installed")


def test_batches_cover_the_dataset_in_a_reproducible_shuffled_order():
    from spars.data import random_manifolds

    data = random_manifolds(50, n_units=20, n_informative=4, n_classes=3, t_max=8.0, duration=10.0)
    got = list(data.batches(16, 1.0, seed=3, epoch=1))
    assert len(got) == 3 and got[0][0].shape == (10, 16, 20)
    order = np.random.default_rng([3, 1]).permutation(50)[:48]
    np.testing.assert_array_equal(np.concatenate([np.asarray(y) for _, y in got]),
                                  data.labels[order])  # fmt: skip
    np.testing.assert_array_equal(got[1][0], data.frames(order[16:32], 1.0))
    tail = list(data.batches(16, 1.0, drop_last=False))
    assert [len(y) for _, y in tail] == [16, 16, 16, 2]
    np.testing.assert_array_equal(tail[3][1], data.labels[48:])
