"""Learned delays on a spike-timing task: one-step vs fixed random vs learned delays.

    python -m experiments.delays --quick
    python -m experiments.delays --seed 0 1 2

The task (:mod:`.task`) puts each class's information only in the interval
between two cue spikes. Every variant trains the same feed-forward network
(inputs -> delayed synapses -> fast LIF -> leaky readout) by BPTT with Adam:
``one_step`` keeps every delay at 1 step, ``fixed`` keeps random delays,
``learned`` trains them; ``sparse`` and ``deep_r`` learn delays on a
``--p-sparse`` fraction of the input synapses, fixed or rewired by DEEP R
(a new synapse draws a random delay). Writes ``summary.json`` and figures
to ``--out``.
"""

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from . import figures, task
from . import model as M

QUICK = dict(train_samples=1024, test_samples=512, epochs=8)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="about two minutes on a laptop CPU")
    p.add_argument("--variant", nargs="+", default=list(M.VARIANTS), choices=M.VARIANTS)
    p.add_argument("--train-samples", type=int, default=4096)
    p.add_argument("--test-samples", type=int, default=1024)
    p.add_argument("--steps", type=int, default=60, help="trial length [1 ms steps]")
    p.add_argument("--channels", type=int, default=16, help="two cues and distractors")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--p-sparse", type=float, default=0.25,
                   help="input connection probability of sparse and deep_r")  # fmt: skip
    p.add_argument("--headroom", type=float, default=2.0, help="DEEP R row capacity factor")
    p.add_argument("--l1", type=float, default=1e-4, help="DEEP R L1 on theta, per batch")
    p.add_argument("--max-delay", type=int, default=32, help="delay bound [steps]")
    p.add_argument("--tau-mem", type=float, default=1.0, help="hidden membrane [ms]")
    p.add_argument("--tau-out", type=float, default=20.0, help="readout membrane [ms]")
    p.add_argument("--w-mean", type=float, default=0.5, help="initial input weight mean")
    p.add_argument("--w-std", type=float, default=0.2, help="initial input weight spread")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2, help="Adam step of weights")
    p.add_argument("--lr-delay", type=float, default=0.2, help="Adam step of delays [steps]")
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--out", type=Path, default=Path("results/delays"))
    first = p.parse_args(argv)
    if first.quick:
        p.set_defaults(**QUICK)
    return p.parse_args(argv)


def train_variant(args, data, n_out: int) -> dict:
    """Trains one (variant, seed); returns its record with per-epoch accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    key = jax.random.key(args.seed)
    state = M.init_state(key, args, x_train.shape[2], n_out)
    step, evaluate = M.make_step(args), M.make_eval(args)
    epochs, start = [], time.perf_counter()
    n_batches = len(x_train) // args.batch
    for epoch in range(1, args.epochs + 1):
        order = np.random.default_rng([args.seed, epoch]).permutation(len(x_train))
        bar = tqdm(range(n_batches), desc=f"{args.variant} epoch {epoch}", leave=False)
        for b in bar:
            idx = order[b * args.batch : (b + 1) * args.batch]
            k = jax.random.fold_in(key, epoch * n_batches + b)
            state, _, _ = step(state, _frames(x_train[idx]), y_train[idx], k)
        _, (correct, rate) = evaluate(state, _frames(x_test), y_test)
        epochs.append({"epoch": epoch, "test_accuracy": float(correct) / len(x_test),
                       "hidden_rate": float(rate)})  # fmt: skip
    elapsed = time.perf_counter() - start
    return {"variant": args.variant, "seed": args.seed, "epochs": epochs,
            "train_time_s": elapsed, "synapses": int(state.conn.n_synapses),
            "params": _delays_of(state)}  # fmt: skip


def _frames(x):
    return jnp.asarray(np.swapaxes(x, 0, 1))  # [B, T, n] -> [T, B, n]


def _delays_of(state) -> dict:
    """Per hidden neuron: delay and weight from cue A and cue B (channels 0, 1)."""
    idx, mask = np.asarray(state.conn.indices), np.asarray(state.conn.mask)
    weight = np.asarray(M.weights_of(state.params, state.signs))
    delay = np.asarray(state.params["delay"])
    out = {}
    for cue, row in (("a", 0), ("b", 1)):
        out[f"target_{cue}"] = idx[row][mask[row]].tolist()
        out[f"delay_{cue}"] = delay[row][mask[row]].tolist()
        out[f"weight_{cue}"] = weight[row][mask[row]].tolist()
    out["all_delays"] = delay[mask].tolist()
    return out


def summarise(records) -> list[dict]:
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in records):
        acc = [r["epochs"][-1]["test_accuracy"] for r in records if r["variant"] == variant]
        rows.append({"variant": variant, "test_accuracy": acc, "mean": float(np.mean(acc)),
                     "sd": float(np.std(acc))})  # fmt: skip
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    kw = dict(n_steps=args.steps, n_channels=args.channels)
    data = (task.timing_task(1000, args.train_samples, **kw),
            task.timing_task(2000, args.test_samples, **kw))  # fmt: skip
    n_out = len(task.INTERVALS)
    print(f"timing task: {args.train_samples} train / {args.test_samples} test trials, "
          f"{args.channels} channels, intervals {task.INTERVALS} steps (chance "
          f"{100 / n_out:.0f}%); jax {jax.__version__} on "
          f"{jax.devices()[0].device_kind}")  # fmt: skip
    records = []
    for variant in args.variant:
        for seed in args.seed:
            run_args = argparse.Namespace(**{**vars(args), "variant": variant, "seed": seed})
            records.append(train_variant(run_args, data, n_out))
            last = records[-1]["epochs"][-1]
            print(f"{variant} seed {seed}: test accuracy {100 * last['test_accuracy']:.1f}% "
                  f"({records[-1]['train_time_s']:.0f} s)")  # fmt: skip
    rows = summarise(records)
    for row in rows:
        print(f"{row['variant']:>9}: {100 * row['mean']:.1f} +- {100 * row['sd']:.1f}%")
    args.out.mkdir(parents=True, exist_ok=True)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    summary = {"config": config, "intervals": list(task.INTERVALS), "summary": rows,
               "records": records}  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    paths = figures.plot_all(args.out, records, task.INTERVALS)
    print(f"wrote {args.out}/summary.json, " + ", ".join(p.name for p in paths))
    return summary
