"""Sparse recurrent classifiers: e-prop or BPTT; dense vs static sparse vs DEEP R.

    python -m experiments.classifier --quick
    python -m experiments.classifier --connectivity dense sparse deep_r --seed 0 1 2
    python -m experiments.classifier --dataset shd --data-dir ~/data/shd --epochs 50

Input -> recurrent (A)LIF -> leaky-integrator readout, dt = 1 ms, Adam, the
study of Knight, Senk & Nowotny (2025). Every (rule, connectivity, seed)
combination is trained in turn; each writes metrics (JSON/CSV) and a
checkpoint per epoch to ``out/<rule>_<connectivity>_seed<k>/``, and the run
ends with ``summary.json``/``.csv`` and figures in ``out``.
"""

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from experiments import classifier_data, classifier_report
from experiments import classifier_setup as setup

QUICK = dict(train_samples=1500, test_samples=600, hidden=128, epochs=4, batch=32)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few minutes on a laptop CPU")
    p.add_argument(
        "--dataset", default="yin_yang", choices=["yin_yang", "shd", "ssc", "nmnist", "dvs_gesture"]
    )
    p.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    p.add_argument("--train-samples", type=int, default=None, help="default: all (Yin-Yang: 5000)")
    p.add_argument("--test-samples", type=int, default=None, help="default: all (Yin-Yang: 1000)")
    p.add_argument("--duration", type=float, default=None, help="trial length [ms]")
    p.add_argument("--rule", nargs="+", default=["eprop"], choices=["eprop", "bptt"])
    p.add_argument(
        "--connectivity",
        nargs="+",
        default=["dense", "sparse", "deep_r"],
        choices=["dense", "sparse", "deep_r"],
    )
    p.add_argument("--p-in", type=float, default=0.05, help="input connection probability")
    p.add_argument("--p-rec", type=float, default=0.01, help="recurrent connection probability")
    p.add_argument("--l1", type=float, default=1e-3, help="DEEP R L1 strength (on mean gradients)")
    p.add_argument("--temperature", type=float, default=0.0, help="DEEP R noise temperature")
    p.add_argument("--headroom", type=float, default=2.0, help="DEEP R row capacity factor")
    p.add_argument("--neuron", default="lif", choices=["lif", "alif"])
    p.add_argument("--tau-adapt", type=float, default=200.0, help="ALIF adaptation [ms]")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--gain-rec", type=float, default=0.5, help="recurrent weight scale")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--c-reg", type=float, default=0.0, help="firing-rate regularisation")
    p.add_argument("--f-target", type=float, default=10.0, help="target rate [Hz]")
    p.add_argument("--tau-reg", type=float, default=500.0, help="rate estimate time constant [ms]")
    p.add_argument("--feedback", default="symmetric", choices=["symmetric", "random"])
    p.add_argument("--dt", type=float, default=1.0, help="time step [ms]")
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--out", type=Path, default=Path("results/classifier"))
    p.add_argument("--resume", action="store_true", help="continue from each run's checkpoint")
    if p.parse_args(argv).quick:
        p.set_defaults(**QUICK)  # explicit options still win
    args = p.parse_args(argv)
    if args.dataset == "yin_yang":
        args.train_samples = args.train_samples or 5000
        args.test_samples = args.test_samples or 1000
    return args


def run_config(args, rule: str, connectivity: str, seed: int) -> dict:
    keep = {
        k: v
        for k, v in vars(args).items()
        if k not in ("rule", "connectivity", "seed", "out", "resume", "quick")
    }
    return {
        **keep,
        "rule": rule,
        "connectivity": connectivity,
        "seed": seed,
        "data_dir": str(args.data_dir),
    }


def train_run(config: dict, train, test, folder: Path, resume: bool) -> dict:
    """Trains one network; checkpoints each epoch; returns its record."""
    args = argparse.Namespace(**config)
    key = jax.random.PRNGKey(args.seed)
    n_out = train.n_classes
    state = setup.init_state(key, args, train.n_units, n_out)
    bounds = setup.synapse_bounds(state)
    record = {"config": config, "epochs": [], "rewiring": [], "initial": _snapshot(state)}
    state, record = _maybe_resume(folder, state, record, resume)
    step = setup.make_train_step(args, n_out, key, bounds)
    for epoch in range(len(record["epochs"]) + 1, args.epochs + 1):
        state, stats = _train_epoch(state, step, train, args, key, epoch, record["rewiring"])
        stats.update(_evaluate(state, test, args, n_out), epoch=epoch)
        stats.update(
            synapses=setup.synapse_count(state),
            weight_bytes=setup.weight_bytes(state),
        )
        record["epochs"].append(stats)
        record["final"] = _snapshot(state)
        _checkpoint(folder, state, record)
    return record


def _train_epoch(state, step, train, args, key, epoch: int, rewiring: list):
    order = np.random.default_rng([args.seed, epoch]).permutation(len(train))
    n_batches = len(train) // args.batch
    totals = dict(
        train_loss=0.0,
        correct=0,
        rate_hz=0.0,
        train_time_s=0.0,
        rewire_time_s=0.0,
        removed=0,
        added=0,
        failed=0,
    )
    bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{args.epochs}", leave=False, mininterval=1.0)
    for b in bar:
        idx = order[b * args.batch : (b + 1) * args.batch]
        x, labels = jnp.asarray(train.frames(idx, args.dt)), jnp.asarray(train.labels[idx])
        start = time.perf_counter()
        state, metrics = jax.block_until_ready(step(state, x, labels))
        totals["train_time_s"] += time.perf_counter() - start
        if args.connectivity == "deep_r":
            start = time.perf_counter()
            batch_key = jax.random.fold_in(key, epoch * n_batches + b)
            state, stats = jax.block_until_ready(setup.rewire(state, batch_key))
            totals["rewire_time_s"] += time.perf_counter() - start
            counts = [
                int(stats["in"].removed),
                int(stats["rec"].removed),
                int(stats["in"].failed + stats["rec"].failed),
            ]
            rewiring.append(counts)
            totals["removed"] += counts[0] + counts[1]
            totals["added"] += int(stats["in"].added + stats["rec"].added)
            totals["failed"] += counts[2]
        totals["train_loss"] += float(metrics.loss) / n_batches
        totals["correct"] += int(metrics.correct)
        totals["rate_hz"] += float(metrics.rate) / n_batches
        bar.set_postfix(
            loss=f"{float(metrics.loss):.3f}",
            acc=f"{int(metrics.correct) / len(idx):.2f}",
            refresh=False,
        )
    totals["train_accuracy"] = totals.pop("correct") / (n_batches * args.batch)
    return state, totals


def _evaluate(state, test, args, n_out) -> dict:
    start = time.perf_counter()
    model = setup.build_model(state, args, n_out)
    loss, correct = 0.0, 0
    for lo in range(0, len(test), args.batch):
        idx = np.arange(lo, lo + args.batch) % len(test)
        valid = jnp.asarray(np.arange(lo, lo + args.batch) < len(test))
        x, labels = jnp.asarray(test.frames(idx, args.dt)), jnp.asarray(test.labels[idx])
        batch_loss, batch_correct = setup.evaluate(model, x, labels, valid)
        loss, correct = loss + float(batch_loss), correct + int(batch_correct)
    elapsed = time.perf_counter() - start
    return dict(test_loss=loss / len(test), test_accuracy=correct / len(test), eval_time_s=elapsed)


def _snapshot(state) -> dict:
    """Row lengths and a histogram of the recurrent weights (for the figures)."""
    w = np.asarray(setup.weights_of(state.params, state.signs)["rec"])
    if state.conns is not None:
        w = w[np.asarray(state.conns["rec"].mask)]
    density, edges = np.histogram(w.ravel(), bins=40, density=True)
    snap = {"recurrent_weights": {"density": density.tolist(), "edges": edges.tolist()}}
    if state.conns is not None:
        snap["input_row_lengths"] = np.asarray(state.conns["in"].row_length).tolist()
        snap["recurrent_row_lengths"] = np.asarray(state.conns["rec"].row_length).tolist()
    return snap


def _checkpoint(folder: Path, state, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    eqx.tree_serialise_leaves(folder / "checkpoint.eqx", state)
    classifier_report.write_run(folder, record)


def _maybe_resume(folder: Path, state, record: dict, resume: bool):
    if not (resume and (folder / "checkpoint.eqx").exists()):
        return state, record
    saved = json.loads((folder / "metrics.json").read_text())
    changed = {
        k
        for k in record["config"]
        if k != "epochs" and saved["config"].get(k) != record["config"][k]
    }
    if changed:
        raise SystemExit(f"{folder}: --resume with different settings: {sorted(changed)}")
    print(f"resuming {folder} after epoch {len(saved['epochs'])}")
    return eqx.tree_deserialise_leaves(folder / "checkpoint.eqx", state), {
        **saved,
        "config": record["config"],
    }


def _print_run(record: dict) -> None:
    c, last = record["config"], record["epochs"][-1]
    print(
        f"{c['rule']} {c['connectivity']} seed {c['seed']}: test accuracy "
        f"{100 * last['test_accuracy']:.1f}%, {classifier_report.epoch_time(record):.2f} s/epoch, "
        f"{last['synapses']} synapses"
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    train, test = classifier_data.load(args)
    print(f"{train.name}: {len(train)} train / {len(test)} test samples, {train.n_units} inputs, "
          f"{train.n_classes} classes, {train.n_steps(args.dt)} steps of {args.dt} ms; "
          f"jax {jax.__version__} on {jax.devices()[0].device_kind}")  # fmt: skip
    records = []
    for rule in args.rule:
        for connectivity in args.connectivity:
            for seed in args.seed:
                folder = args.out / f"{rule}_{connectivity}_seed{seed}"
                config = run_config(args, rule, connectivity, seed)
                records.append(train_run(config, train, test, folder, args.resume))
                _print_run(records[-1])
    rows = classifier_report.summarise(records)
    classifier_report.print_summary(rows)
    classifier_report.write_summary(args.out, rows)
    figures = classifier_report.plot_all(args.out, records)
    print(f"wrote {args.out}/summary.json, summary.csv, " + ", ".join(p.name for p in figures))
    return {"records": records, "summary": rows}


if __name__ == "__main__":
    main()
