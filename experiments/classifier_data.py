"""Datasets of ``experiments.classifier``: the embedded Yin-Yang task or files you have."""

from pathlib import Path

import numpy as np

from spars import data

FILES = {"shd": ("shd_train.h5", "shd_test.h5"), "ssc": ("ssc_train.h5", "ssc_test.h5")}


def load(args) -> tuple[data.SpikeDataset, data.SpikeDataset]:
    """``(train, test)`` for ``args.dataset``; Yin-Yang needs no files."""
    if args.dataset == "yin_yang":
        return data.yin_yang(args.train_samples, seed=42), data.yin_yang(args.test_samples, seed=40)
    if args.dataset in FILES:
        if args.data_dir is None:
            raise SystemExit(
                f"--dataset {args.dataset} needs --data-dir holding {FILES[args.dataset]}"
            )
        loader = data.load_shd if args.dataset == "shd" else data.load_ssc
        train, test = (loader(Path(args.data_dir) / f, args.duration) for f in FILES[args.dataset])
    else:
        loader = data.load_nmnist if args.dataset == "nmnist" else data.load_dvs_gesture
        kw = {} if args.duration is None else {"duration": args.duration}
        train, test = (loader(args.data_dir, train=flag, **kw) for flag in (True, False))
    return _limit(train, args.train_samples), _limit(test, args.test_samples)


def _limit(dataset: data.SpikeDataset, n: int | None) -> data.SpikeDataset:
    """The first ``n`` samples of a shuffled order (all when ``n`` is None)."""
    if n is None or n >= len(dataset):
        return dataset
    return dataset.subset(np.random.default_rng(0).permutation(len(dataset))[:n])
