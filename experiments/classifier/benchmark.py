"""Time per epoch at the SHD shape: dense vs static sparse vs DEEP R, e-prop and BPTT.

    python -m experiments.classifier.benchmark [--quick] [--hidden 256 512] [--rule eprop bptt]

700 Poisson inputs (1.2% per step, about SHD's rate) -> ALIF hidden layer ->
20 readouts, 1000 steps of 1 ms, batch 32, and otherwise the classifier's
SHD preset (``--dataset shd``: the paper's 5% input / 5% recurrent, DEEP R
row headroom 5). For every case it times one
training step (gradients + Adam), one DEEP R rewiring and one evaluation
batch (median of ``--reps``), scales them to an SHD epoch (8156 training,
2264 test samples), and reads the training step's peak memory from the
compiled executable. ``eprop-online`` is e-prop with per-synapse traces
(memory independent of the trial length), timed for the sparse layouts.
Writes ``out/classifier_epoch.json``.
"""

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp

from experiments.common.timing import run_meta, time_call

from . import cli
from . import model as M

SHD_TRAIN, SHD_TEST, N_OUT = 8156, 2264, 20
RULES = ("eprop", "eprop-online", "bptt")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="200 steps, batch 8, 3 repetitions")
    p.add_argument("--rule", nargs="+", default=list(RULES), choices=RULES)
    p.add_argument("--connectivity", nargs="+", default=["dense", "sparse", "deep_r"])
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 512])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--inputs", type=int, default=700)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("results/benchmark"))
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch, args.reps = 200, 8, 3
    return args


def model_args(args, hidden: int, rule: str, connectivity: str) -> argparse.Namespace:
    """The classifier's SHD preset for this case, at this size."""
    loss = ["--loss", "per_step"] if rule == "eprop-online" else []
    margs = cli.parse_args(["--dataset", "shd", "--hidden", str(hidden), *loss])
    margs.rule, margs.online = rule.split("-")[0], rule.endswith("online")
    margs.connectivity, margs.n_steps, margs.batch = connectivity, args.steps, args.batch
    margs.batches_per_epoch = SHD_TRAIN // args.batch
    return margs


def time_case(args, hidden: int, rule: str, connectivity: str) -> dict:
    margs = model_args(args, hidden, rule, connectivity)
    key = jax.random.PRNGKey(0)
    state = M.init_state(key, margs, args.inputs, N_OUT)
    x = (jax.random.uniform(key, (args.steps, args.batch, args.inputs)) < 0.012).astype(jnp.float32)
    labels = jax.random.randint(key, (args.batch,), 0, N_OUT)
    step = M.make_train_step(margs, N_OUT, key, M.synapse_bounds(state))
    row = {"hidden": hidden, "rule": rule, "connectivity": connectivity,
           "step_ms": time_call(lambda s: step(s, x, labels), state, reps=args.reps),
           "step_peak_mb": _peak_mb(step, state, x, labels)}  # fmt: skip
    model = M.build_model(state, margs, N_OUT)
    valid = jnp.ones(args.batch, bool)
    row["eval_ms"] = time_call(lambda m: M.evaluate(m, x, labels, valid), model, reps=args.reps)
    if connectivity == "deep_r":
        state, _ = step(state, x, labels)
        row["rewire_ms"] = time_call(M.make_rewire(margs, key), state, key, reps=args.reps)
    row["epoch_s"] = _epoch_seconds(row, args)
    row["rewiring_share"] = row.get("rewire_ms", 0.0) / (row["step_ms"] + row.get("rewire_ms", 0.0))
    row["synapses"] = M.synapse_count(state)
    return row


def _epoch_seconds(row: dict, args) -> float:
    """One SHD epoch: training steps (+ rewiring) and the test set, from the per-batch times."""
    train = (row["step_ms"] + row.get("rewire_ms", 0.0)) * (SHD_TRAIN // args.batch)
    test = row["eval_ms"] * -(-SHD_TEST // args.batch)
    return (train + test) * 1e-3


def _peak_mb(step, *args) -> float | None:
    """Temporary + argument + output bytes of the compiled step [MB], if XLA reports them."""
    stats = step.lower(*args).compile().compiled.memory_analysis()  # equinox wraps jax's
    if stats is None:
        return None
    total = stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes
    return total / 2**20


def print_row(row: dict, rows: list[dict]) -> None:
    dense = [r for r in rows if (r["hidden"], r["rule"], r["connectivity"])
             == (row["hidden"], row["rule"], "dense")]  # fmt: skip
    ratio = f"{dense[0]['epoch_s'] / row['epoch_s']:7.1f}x" if dense else f"{'-':>8s}"
    share = f"{100 * row['rewiring_share']:7.2f}%" if "rewire_ms" in row else ""
    peak = f"{row['step_peak_mb']:8.0f}" if row["step_peak_mb"] is not None else f"{'-':>8s}"
    print(f"{row['hidden']:6d} {row['rule']:12s} {row['connectivity']:7s} {row['step_ms']:9.1f} "
          f"{row['eval_ms']:8.1f} {row['epoch_s']:9.1f} {ratio} {peak} {row['synapses']:9d} "
          f"{share}")  # fmt: skip


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    device = jax.devices()[0].device_kind
    print(f"{args.inputs} -> ALIF -> {N_OUT}, {args.steps} steps, batch {args.batch}; "
          f"jax {jax.__version__} on {device}; median of {args.reps}")  # fmt: skip
    print(f"{'hidden':>6s} {'rule':12s} {'conn':7s} {'step [ms]':>9s} {'eval [ms]':>8s} "
          f"{'epoch [s]':>9s} {'x dense':>8s} {'peak MB':>8s} {'synapses':>9s} "
          "DEEP R share")  # fmt: skip
    rows = []
    for hidden in args.hidden:
        for rule in args.rule:
            for connectivity in args.connectivity:
                if rule == "eprop-online" and connectivity == "dense":
                    continue  # [batch, n_in, n_hidden] traces per step: minutes per batch
                rows.append(time_case(args, hidden, rule, connectivity))
                print_row(rows[-1], rows)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {**run_meta(args.reps), "steps": args.steps, "batch": args.batch,
            "shd_train": SHD_TRAIN, "shd_test": SHD_TEST}  # fmt: skip
    path = args.out / "classifier_epoch.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main()
