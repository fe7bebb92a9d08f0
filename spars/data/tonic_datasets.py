"""Event-camera datasets (N-MNIST, DVS Gesture) through ``tonic``, when installed.

tonic yields ``(events, label)`` with events a structured array of fields
``x``, ``y``, ``p`` (polarity) and ``t`` [us], and a ``sensor_size`` of
``(width, height, polarities)``. :func:`from_tonic` turns any such dataset
into a :class:`~spars.data.SpikeDataset`, one input unit per (polarity, y, x)
pixel after optional spatial pooling.
"""

import numpy as np

from .events import SpikeDataset, from_samples


def from_tonic(
    dataset, *, n_classes: int, duration: float, pool: int = 1, name: str = "tonic"
) -> SpikeDataset:
    """Converts a tonic-style dataset (a sequence of ``(events, label)``).

    Args:
        dataset: has ``sensor_size = (width, height, polarities)`` and yields
            ``(events, label)``.
        n_classes: number of classes.
        duration: trial length [ms]; later events are left out of the frames.
        pool: spatial pooling factor: pixel ``(x, y)`` feeds unit
            ``(x // pool, y // pool)``.
        name: dataset name for logs.
    """
    width, height, n_pol = (int(s) for s in dataset.sensor_size)
    w, h = -(-width // pool), -(-height // pool)
    times, units, labels = [], [], []
    for s in range(len(dataset)):
        events, label = dataset[s]
        _check_fields(events, name, s)
        times.append(np.asarray(events["t"], np.float64) * 1e-3)
        pol = np.asarray(events["p"], np.int64).clip(0, n_pol - 1)
        units.append((pol * h + events["y"] // pool) * w + events["x"] // pool)
        labels.append(int(label))
    return from_samples(
        times,
        units,
        labels,
        n_units=n_pol * h * w,
        n_classes=n_classes,
        duration=duration,
        name=name,
    )


def load_nmnist(root, *, train: bool = True, duration: float = 300.0, pool: int = 1):
    """N-MNIST (34 x 34 x 2 sensor, 10 classes) from tonic's files under ``root``."""
    tonic = _import_tonic()
    data = tonic.datasets.NMNIST(save_to=str(root), train=train)
    return from_tonic(data, n_classes=10, duration=duration, pool=pool, name="nmnist")


def load_dvs_gesture(root, *, train: bool = True, duration: float = 1500.0, pool: int = 4):
    """DVS Gesture (128 x 128 x 2 sensor, 11 classes) from tonic's files under ``root``."""
    tonic = _import_tonic()
    data = tonic.datasets.DVSGesture(save_to=str(root), train=train)
    return from_tonic(data, n_classes=11, duration=duration, pool=pool, name="dvs_gesture")


def _check_fields(events, name: str, sample: int):
    fields = getattr(getattr(events, "dtype", None), "names", None) or ()
    missing = {"x", "y", "p", "t"} - set(fields)
    if missing:
        raise ValueError(
            f"{name}: sample {sample} events lack fields {sorted(missing)}; expected a "
            "structured array with x, y, p and t [us] (tonic's format)"
        )


def _import_tonic():
    try:
        import tonic
    except ImportError as err:
        raise ImportError(
            "N-MNIST and DVS Gesture are read through tonic: pip install tonic "
            "(the dataset files must already be under root; nothing is downloaded "
            "on machines without internet access)"
        ) from err
    return tonic
