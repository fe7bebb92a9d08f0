"""Recurrent classifiers (e-prop, BPTT, EventProp): dense vs static sparse vs DEEP R vs a GRU.

    python -m experiments.classifier --quick
    python -m experiments.classifier --rule eprop bptt --seed 0 1 2
    python -m experiments.classifier --rule eventprop [--delays]
    python -m experiments.classifier --dataset shd --data-dir ~/data/shd

Input -> recurrent (A)LIF -> leaky-integrator readout, dt = 1 ms, Adam, the
study of Knight, Senk & Nowotny (2025), beside a non-spiking GRU trained on
the same inputs. Every (rule, connectivity, seed) combination is trained in
turn; each writes metrics (JSON/CSV) and a checkpoint per epoch to
``out/<rule>_<connectivity>_seed<k>/``, and the run ends with
``summary.json``/``.csv`` and figures in ``out``.
"""

import argparse
import sys
from pathlib import Path

import jax

from . import data, figures, report, training

DATASET_DEFAULTS = {
    "manifolds": dict(train_samples=6000, test_samples=1000, hidden=256, epochs=24, gain_in=4.0,
                      headroom=10.0),
    "yin_yang": dict(train_samples=5000, test_samples=1000, hidden=128, epochs=10),
    # the GeNN study's SHD/SSC settings (github jhnnsnk/genn_structural_plasticity)
    "shd": dict(neuron="alif", hidden=512, batch=512, epochs=50, lr=1e-3, p_rec=0.05,
                headroom=5.0, c_reg=1e-3, duration=1000.0, baseline_lr=1e-3),
}  # fmt: skip
DATASET_DEFAULTS["ssc"] = DATASET_DEFAULTS["shd"]
QUICK = {
    "manifolds": dict(train_samples=1500, test_samples=500, epochs=5),
    "yin_yang": dict(train_samples=1500, test_samples=600, epochs=4),
}
L1_HELP = "DEEP R L1 per trial (mlGeNN's units: divided by the trial's steps)"
RESUME_HELP = "continue from each run's checkpoint (with --cosine: at the same --epochs)"
ONLINE_HELP = "e-prop by per-synapse traces (memory independent of the trial length)"
DATASETS = ["manifolds", "yin_yang", "shd", "ssc", "nmnist", "dvs_gesture"]
QUICK_FILES = dict(train_samples=512, test_samples=256, epochs=2, batch=32, hidden=128)
# EventProp gives no gradient to a neuron that never fires: it starts from a more active
# hidden layer, keeps each neuron's spike count near the target with a strong regulariser and
# lifts the potential of neurons below 5 Hz (the activity floor; measured in
# docs/eventprop.md); CurrentLIF neurons (--neuron lif). Applied to --rule eventprop runs
# unless the option is given
RULE_DEFAULTS = {"eventprop": dict(gain_in=16.0, c_reg=30.0, floor=0.1, neuron="lif")}


def parse_args(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a couple of minutes on a laptop CPU")
    p.add_argument("--dataset", default="manifolds", choices=DATASETS)
    p.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    p.add_argument("--train-samples", type=int, default=None, help="default: all")
    p.add_argument("--test-samples", type=int, default=None, help="default: all")
    p.add_argument("--duration", type=float, default=None, help="trial length [ms]")
    _task(p.add_argument_group("the random-manifold task (spars.data.random_manifolds)"))
    p.add_argument("--rule", nargs="+", default=["eprop"], choices=["eprop", "bptt", "eventprop"])
    p.add_argument("--connectivity", nargs="*", default=["dense", "sparse", "deep_r"],
                   choices=["dense", "sparse", "deep_r"])  # fmt: skip
    p.add_argument("--no-baseline", dest="baseline", action="store_false",
                   help="skip the non-spiking GRU baseline")  # fmt: skip
    _network(p.add_argument_group("network"))
    _training(p.add_argument_group("training"))
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--out", type=Path, default=Path("results/classifier"))
    p.add_argument("--resume", action="store_true", help=RESUME_HELP)
    first = p.parse_args(argv)
    p.set_defaults(**DATASET_DEFAULTS.get(first.dataset, {}))
    if first.quick:  # explicit options still win
        p.set_defaults(**QUICK.get(first.dataset, QUICK_FILES))
    args = p.parse_args(argv)
    if args.delays and "dense" in args.connectivity:
        p.error("--delays needs sparse connectivities (dense matrices carry no delays): "
                "--connectivity sparse deep_r")  # fmt: skip
    given = {a.dest for a in p._actions for o in a.option_strings
             if any(w == o or w.startswith(o + "=") for w in argv)}  # fmt: skip
    args.rule_defaults = {rule: {k: v for k, v in d.items() if k not in given}
                          for rule, d in RULE_DEFAULTS.items()}  # fmt: skip
    return args


def _task(g):
    g.add_argument("--task-seed", type=int, default=0, help="which task (manifolds, channels)")
    g.add_argument("--informative", type=int, default=24, help="informative channels of 700")
    g.add_argument("--manifold-dim", type=int, default=2, help="latent dimension per class")
    g.add_argument("--classes", type=int, default=10)
    g.add_argument("--distractor-probability", type=float, default=0.0,
                   help="chance a distractor channel fires once per trial")  # fmt: skip


def _network(g):
    g.add_argument("--p-in", type=float, default=0.05, help="input connection probability")
    g.add_argument("--p-rec", type=float, default=0.01, help="recurrent connection probability")
    g.add_argument("--headroom", type=float, default=2.0, help="DEEP R row capacity factor")
    g.add_argument("--neuron", default="lif", choices=["lif", "alif"])
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--tau-mem", type=float, default=20.0, help="hidden membrane [ms]")
    g.add_argument("--v-thresh", type=float, default=0.6, help="hidden threshold [mV]")
    g.add_argument("--tau-adapt", type=float, default=2000.0, help="ALIF adaptation [ms]")
    g.add_argument("--beta", type=float, default=0.0174, help="ALIF threshold step [mV]")
    g.add_argument("--tau-out", type=float, default=20.0, help="readout membrane [ms]")
    g.add_argument("--gain-in", type=float, default=1.0, help="input weight scale")
    g.add_argument("--gain-rec", type=float, default=0.5, help="recurrent weight scale")
    g.add_argument("--surrogate", default="triangle", choices=["triangle", "fast_sigmoid"])
    g.add_argument("--dt", type=float, default=1.0, help="time step [ms]")
    g.add_argument("--tau-syn", type=float, default=5.0, help="EventProp: synaptic current [ms]")
    g.add_argument("--delays", action="store_true",
                   help="learned per-synapse delays on the sparse projections")  # fmt: skip
    g.add_argument("--max-delay", type=int, default=20, help="delay bound [steps]")


def _training(g):
    g.add_argument("--batch", type=int, default=32)
    g.add_argument("--loss", default="mean", choices=["mean", "per_step", "summed", "max"],
                   help="cross-entropy of the time-averaged readout, or at every step")  # fmt: skip
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--lr", type=float, default=3e-3, help="Adam step of the SNNs")
    g.add_argument("--cosine", action=argparse.BooleanOptionalAction, default=True,
                   help="decay the SNNs' step to 0 along a cosine over the epochs")  # fmt: skip
    g.add_argument("--baseline-lr", type=float, default=3e-3, help="Adam step of the GRU")
    g.add_argument("--baseline-hidden", type=int, default=128,
                   help="GRU units (128: about the dense SNN's parameter count)")  # fmt: skip
    g.add_argument("--l1", type=float, default=0.01, help=L1_HELP)
    g.add_argument("--temperature", type=float, default=0.0, help="DEEP R noise temperature")
    g.add_argument("--c-reg", type=float, default=1.0, help="firing-rate regularisation")
    g.add_argument("--f-target", type=float, default=10.0, help="target rate [Hz]")
    g.add_argument("--tau-reg", type=float, default=500.0, help="rate estimate time constant [ms]")
    g.add_argument("--floor", type=float, default=0.0,
                   help="EventProp: activity floor (lifts neurons below --f-min)")  # fmt: skip
    g.add_argument("--f-min", type=float, default=5.0, help="EventProp: floor rate [Hz]")
    g.add_argument("--feedback", default="symmetric", choices=["symmetric", "random"])
    g.add_argument("--online", action="store_true", help=ONLINE_HELP)
    g.add_argument("--lr-delay", type=float, default=0.2, help="Adam step of delays [steps]")
    g.add_argument("--max-spikes", type=int, default=None,
                   help="EventProp's spike record per batch (default: T x B x n / 4)")  # fmt: skip


def run_config(args, rule: str, connectivity: str, seed: int, train) -> dict:
    keep = {
        k: v
        for k, v in vars(args).items()
        if k not in ("rule", "connectivity", "seed", "out", "resume", "quick", "baseline",
                     "rule_defaults")
    }
    keep.update(args.rule_defaults.get(rule, {}))
    return {**keep, "rule": rule, "connectivity": connectivity, "seed": seed,
            "data_dir": str(args.data_dir), "n_steps": train.n_steps(args.dt),
            "batches_per_epoch": len(train) // args.batch}  # fmt: skip


def _print_run(record: dict) -> None:
    c, last = record["config"], record["epochs"][-1]
    print(
        f"{c['rule']} {c['connectivity']} seed {c['seed']}: test accuracy "
        f"{100 * last['test_accuracy']:.1f}%, {report.epoch_time(record):.2f} s/epoch, "
        f"{last['synapses']} synapses"
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    train, test = data.load(args)
    n_steps = train.n_steps(args.dt)
    print(f"{train.name}: {len(train)} train / {len(test)} test samples, {train.n_units} inputs, "
          f"{train.n_classes} classes, {n_steps} steps of {args.dt} ms; "
          f"jax {jax.__version__} on {jax.devices()[0].device_kind}")  # fmt: skip
    informative = data.informative_inputs(args, train.n_units)
    records = []
    for seed in args.seed if args.baseline else []:
        config = run_config(args, "-", report.BASELINE, seed, train)
        folder = args.out / f"{report.BASELINE}_seed{seed}"
        records.append(training.train_baseline(config, train, test, folder))
        _print_run(records[-1])
    for rule in args.rule:
        for connectivity in args.connectivity:
            for seed in args.seed:
                folder = args.out / f"{rule}_{connectivity}_seed{seed}"
                config = run_config(args, rule, connectivity, seed, train)
                records.append(training.train_run(config, train, test, folder, args.resume,
                                                  informative))  # fmt: skip
                _print_run(records[-1])
    rows = report.summarise(records)
    report.print_summary(rows)
    report.write_summary(args.out, rows)
    paths = figures.plot_all(args.out, records)
    print(f"wrote {args.out}/summary.json, summary.csv, " + ", ".join(p.name for p in paths))
    return {"records": records, "summary": rows}
