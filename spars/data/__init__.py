"""Datasets: the embedded Yin-Yang task, SHD/SSC HDF5 files, tonic event datasets."""

from .events import SpikeDataset as SpikeDataset
from .events import from_samples as from_samples
from .hdf5 import load_hdf5_spikes as load_hdf5_spikes
from .hdf5 import load_shd as load_shd
from .hdf5 import load_ssc as load_ssc
from .random_manifolds import informative_channels as informative_channels
from .random_manifolds import random_manifolds as random_manifolds
from .tonic_datasets import from_tonic as from_tonic
from .tonic_datasets import load_dvs_gesture as load_dvs_gesture
from .tonic_datasets import load_nmnist as load_nmnist
from .yin_yang import yin_yang as yin_yang
from .yin_yang import yin_yang_class as yin_yang_class
from .yin_yang import yin_yang_points as yin_yang_points
