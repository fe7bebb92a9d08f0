"""Training runs of the classifier study: one SNN or the GRU baseline, epoch by epoch.

Each run trains one (rule, connectivity, seed) combination, evaluates on the
test set after every epoch, writes ``metrics.json``/``.csv`` and a
checkpoint to its folder after every epoch and can resume from it bit for
bit: the data order and the rewiring keys come from (seed, epoch, batch).
"""

import argparse
import json
import time
from functools import partial
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from . import baseline, diagnostics, report
from . import model as M


def batches(dataset, args, epoch: int):
    """``(index, x [T, B, n_in], labels [B])`` of one epoch in the order of (seed, epoch)."""
    n_batches = len(dataset) // args.batch
    stream = dataset.batches(args.batch, args.dt, seed=args.seed, epoch=epoch)
    bar = tqdm(stream, total=n_batches, desc=f"epoch {epoch}/{args.epochs}", leave=False,
               mininterval=1.0)  # fmt: skip
    for b, (x, labels) in enumerate(bar):
        yield b, x, labels


def test_batches(dataset, args):
    """``(x, labels, valid)`` over the test set; ``valid`` marks the real rows of each batch."""
    for lo in range(0, len(dataset), args.batch):
        idx = np.arange(lo, lo + args.batch) % len(dataset)
        valid = jnp.asarray(np.arange(lo, lo + args.batch) < len(dataset))
        yield jnp.asarray(dataset.frames(idx, args.dt)), jnp.asarray(dataset.labels[idx]), valid


def train_run(config: dict, train, test, folder: Path, resume: bool, informative=None) -> dict:
    """Trains one SNN; checkpoints each epoch; returns its record."""
    args = argparse.Namespace(**config)
    key = jax.random.PRNGKey(args.seed)
    n_out = train.n_classes
    state = M.init_state(key, args, train.n_units, n_out)
    record = {"config": config, "epochs": [], "rewiring": []}
    record["initial"] = diagnostics.snapshot(state, informative)
    state, record = _maybe_resume(folder, state, record, resume)
    step = M.make_train_step(args, n_out, key, M.synapse_bounds(state))
    rewire = M.make_rewire(args, key) if args.connectivity == "deep_r" else None
    for epoch in range(len(record["epochs"]) + 1, args.epochs + 1):
        state, stats = _train_epoch(state, (step, rewire), train, args, key, epoch,
                                    record["rewiring"])  # fmt: skip
        stats.update(_evaluate(state, test, args, n_out), epoch=epoch)
        stats.update(synapses=M.synapse_count(state), weight_bytes=M.weight_bytes(state))
        if informative is not None:
            stats["informative_fraction"] = diagnostics.informative_fraction(state, informative)
        if state.ages is not None:
            stats.update(diagnostics.connectivity(state, len(record["rewiring"])))
        record["epochs"].append(stats)
        record["final"] = diagnostics.snapshot(state, informative)
        _checkpoint(folder, state, record)
    return record


def _train_epoch(state, steps, train, args, key, epoch: int, rewiring: list):
    step, rewire = steps
    totals = dict(train_loss=0.0, correct=0, rate_hz=0.0, train_time_s=0.0, rewire_time_s=0.0)
    n_batches = len(train) // args.batch
    removal = diagnostics.RemovalTally()
    for b, x, labels in batches(train, args, epoch):
        start = time.perf_counter()
        state, metrics = jax.block_until_ready(step(state, x, labels))
        totals["train_time_s"] += time.perf_counter() - start
        if rewire is not None:
            start = time.perf_counter()
            batch_key = jax.random.fold_in(key, epoch * n_batches + b)
            state, stats = jax.block_until_ready(rewire(state, batch_key))
            totals["rewire_time_s"] += time.perf_counter() - start
            rewiring.append(removal.add(stats))
        totals["train_loss"] += float(metrics.loss) / n_batches
        totals["correct"] += int(metrics.correct)
        totals["rate_hz"] += float(metrics.rate) / n_batches
    totals["train_accuracy"] = totals.pop("correct") / (n_batches * args.batch)
    return state, {**totals, **removal.summary()}


def _evaluate(state, test, args, n_out) -> dict:
    model = M.build_model(state, args, n_out)
    loss = M.LOSSES[args.loss]
    return _score(lambda x, labels, valid: M.evaluate(model, x, labels, valid, loss), test, args)


def _score(evaluate_batch, test, args) -> dict:
    """Test loss and accuracy from ``evaluate_batch(x, labels, valid) -> (summed loss,
    correct)`` over the test set, and the time taken [s]."""
    start = time.perf_counter()
    loss, correct = 0.0, 0
    for x, labels, valid in test_batches(test, args):
        batch_loss, batch_correct = evaluate_batch(x, labels, valid)
        loss, correct = loss + float(batch_loss), correct + int(batch_correct)
    elapsed = time.perf_counter() - start
    return dict(test_loss=loss / len(test), test_accuracy=correct / len(test), eval_time_s=elapsed)


def train_baseline(config: dict, train, test, folder: Path) -> dict:
    """Trains the GRU baseline on the same batches; returns its record."""
    args = argparse.Namespace(**config)
    net = baseline.GRUClassifier(
        train.n_units,
        args.baseline_hidden,
        train.n_classes,
        input_gain=args.gain_in,
        key=jax.random.PRNGKey(args.seed),
    )
    opt_state = baseline.optimizer(args).init(eqx.filter(net, eqx.is_array))
    step = baseline.make_train_step(args)
    record = {"config": config, "epochs": [], "rewiring": []}
    for epoch in range(1, args.epochs + 1):
        loss, correct, elapsed = 0.0, 0, 0.0
        for _, x, labels in batches(train, args, epoch):
            start = time.perf_counter()
            net, opt_state, batch_loss, batch_correct = step(net, opt_state, x, labels)
            loss, correct = loss + float(batch_loss), correct + int(batch_correct)
            elapsed += time.perf_counter() - start
        n_batches = len(train) // args.batch
        stats = dict(epoch=epoch, train_loss=loss / n_batches, train_time_s=elapsed)
        stats.update(train_accuracy=correct / (n_batches * args.batch), rewire_time_s=0.0)
        stats.update(_score(partial(baseline.evaluate_batch, net), test, args))
        stats.update(synapses=baseline.parameter_count(net))
        record["epochs"].append(stats)
        report.write_run(folder, record)
    return record


def _checkpoint(folder: Path, state, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    eqx.tree_serialise_leaves(folder / "checkpoint.eqx", state)
    report.write_run(folder, record)


def _maybe_resume(folder: Path, state, record: dict, resume: bool):
    if not (resume and (folder / "checkpoint.eqx").exists()):
        return state, record
    saved = json.loads((folder / "metrics.json").read_text())
    extendable = () if record["config"]["cosine"] else ("epochs",)  # cosine spans --epochs
    changed = {
        k
        for k in record["config"]
        if k not in extendable and saved["config"].get(k) != record["config"][k]
    }
    if changed:
        raise SystemExit(f"{folder}: --resume with different settings: {sorted(changed)}")
    print(f"resuming {folder} after epoch {len(saved['epochs'])}")
    return eqx.tree_deserialise_leaves(folder / "checkpoint.eqx", state), {
        **saved,
        "config": record["config"],
    }
