"""Datasets of the classifier study: the embedded tasks, or files you have."""

from pathlib import Path

import numpy as np

from spars import data

FILES = {"shd": ("shd_train.h5", "shd_test.h5"), "ssc": ("ssc_train.h5", "ssc_test.h5")}
EMBEDDED = ("manifolds", "yin_yang")


def load(args) -> tuple[data.SpikeDataset, data.SpikeDataset]:
    """``(train, test)`` for ``args.dataset``; the embedded tasks need no files."""
    if args.dataset == "manifolds":
        return tuple(
            data.random_manifolds(n, sample_seed=split, **manifold_task(args))
            for n, split in ((args.train_samples, 1), (args.test_samples, 2))
        )
    if args.dataset == "yin_yang":
        return data.yin_yang(args.train_samples, seed=42), data.yin_yang(args.test_samples, seed=40)
    if args.data_dir is None:
        needs = FILES.get(args.dataset, "the tonic dataset's folder")
        raise SystemExit(f"--dataset {args.dataset} needs --data-dir holding {needs}")
    if args.dataset in FILES:
        loader = data.load_shd if args.dataset == "shd" else data.load_ssc
        train, test = (loader(Path(args.data_dir) / f, args.duration) for f in FILES[args.dataset])
    else:
        loader = data.load_nmnist if args.dataset == "nmnist" else data.load_dvs_gesture
        kw = {} if args.duration is None else {"duration": args.duration}
        train, test = (loader(args.data_dir, train=flag, **kw) for flag in (True, False))
    return _limit(train, args.train_samples), _limit(test, args.test_samples)


def manifold_task(args) -> dict:
    """Keyword arguments of :func:`spars.data.random_manifolds` for the task of ``args``."""
    return dict(
        seed=args.task_seed,
        n_informative=args.informative,
        manifold_dim=args.manifold_dim,
        n_classes=args.classes,
        distractor_probability=args.distractor_probability,
    )


def informative_inputs(args, n_units: int) -> np.ndarray | None:
    """``bool[n_units]``: which inputs carry the class (known for the manifold task only)."""
    if args.dataset != "manifolds":
        return None
    flags = np.zeros(n_units, bool)
    flags[data.informative_channels(args.task_seed, n_units, args.informative)] = True
    return flags


def _limit(dataset: data.SpikeDataset, n: int | None) -> data.SpikeDataset:
    """The first ``n`` samples of a shuffled order (all when ``n`` is None)."""
    if n is None or n >= len(dataset):
        return dataset
    return dataset.subset(np.random.default_rng(0).permutation(len(dataset))[:n])
