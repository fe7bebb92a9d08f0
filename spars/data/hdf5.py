"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) from their HDF5 files.

Cramer, Stradmann, Schemmel & Zenke (2022). Each file (e.g. ``shd_train.h5``,
``ssc_test.h5``) holds ``spikes/times`` (per sample, event times [s]),
``spikes/units`` (per sample, channel ids in ``[0, 700)``) and ``labels``.
The files are not downloaded here: pass the path of a copy you have.
"""

from pathlib import Path

import numpy as np

from .events import SpikeDataset, from_samples

N_CHANNELS = 700
N_CLASSES = {"shd": 20, "ssc": 35}
EXPECTED = "an HDF5 file with datasets spikes/times, spikes/units and labels (SHD/SSC format)"


def load_hdf5_spikes(
    path, *, n_classes: int | None = None, duration: float | None = None, name: str | None = None
) -> SpikeDataset:
    """Reads an SHD/SSC-format file.

    Args:
        path: the ``.h5`` file.
        n_classes: number of classes; default ``max(label) + 1``.
        duration: trial length [ms]; default the latest event, rounded up
            to a whole ms. Events at or after it are left out of the frames.
        name: dataset name for logs; default the file name.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file lacks a dataset or its entries disagree.
    """
    h5py = _import_h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected {EXPECTED}")
    try:
        with h5py.File(path, "r") as f:
            times, units, labels = _read(f, path)
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err}); expected {EXPECTED}") from err
    times_ms = [1e3 * np.asarray(t, np.float64) for t in times]
    latest = max((float(t.max()) for t in times_ms if t.size), default=1.0)
    return from_samples(
        times_ms,
        units,
        labels,
        n_units=N_CHANNELS,
        n_classes=n_classes or int(np.max(labels, initial=0)) + 1,
        duration=duration or float(np.floor(latest) + 1.0),
        name=name or path.name,
    )


def load_shd(path, duration: float | None = None) -> SpikeDataset:
    """SHD (20 classes, 700 channels) from ``shd_train.h5`` / ``shd_test.h5``."""
    return load_hdf5_spikes(path, n_classes=N_CLASSES["shd"], duration=duration)


def load_ssc(path, duration: float | None = None) -> SpikeDataset:
    """SSC (35 classes, 700 channels) from ``ssc_train.h5`` / ``ssc_valid.h5`` / ``ssc_test.h5``."""
    return load_hdf5_spikes(path, n_classes=N_CLASSES["ssc"], duration=duration)


def _read(f, path):
    for key in ("spikes/times", "spikes/units", "labels"):
        if key not in f:
            raise ValueError(f"{path}: missing dataset {key!r}; expected {EXPECTED}")
    times, units, labels = f["spikes/times"][:], f["spikes/units"][:], f["labels"][:]
    if not len(times) == len(units) == len(labels):
        raise ValueError(
            f"{path}: {len(times)} spikes/times, {len(units)} spikes/units and "
            f"{len(labels)} labels; expected one entry per sample in each"
        )
    return list(times), [np.asarray(u, np.int64) for u in units], np.asarray(labels, np.int64)


def _import_h5py():
    try:
        import h5py
    except ImportError as err:
        raise ImportError("reading SHD/SSC needs h5py: pip install 'spars[data]'") from err
    return h5py
