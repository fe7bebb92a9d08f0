"""Training-step time at the SHD shape: dense vs static sparse vs DEEP R, e-prop and BPTT.

    python -m experiments.classifier_benchmark [--quick] [--batch 512] [--rule eprop bptt]

700 Poisson inputs (1.2% per step, about SHD's rate) -> 512 LIF -> 20 readout,
1000 steps of 1 ms, sparse 5% input / 1% recurrent. Prints the median time
of one training step (gradients + Adam) per connectivity, its ratio to dense,
and for DEEP R the rewiring time as a share of the step; writes
``out/classifier_step.json``.
"""

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp

from experiments import classifier
from experiments import classifier_setup as setup
from experiments.benchmark import run_meta, time_call


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="200 steps, batch 8, 3 repetitions")
    p.add_argument("--rule", nargs="+", default=["eprop", "bptt"], choices=["eprop", "bptt"])
    p.add_argument("--connectivity", nargs="+", default=["dense", "sparse", "deep_r"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--inputs", type=int, default=700)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("results/benchmark"))
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch, args.reps = 200, 8, 3
    return args


def model_args(args, rule: str, connectivity: str) -> argparse.Namespace:
    """The classifier's own settings (its defaults) for this case."""
    margs = classifier.parse_args(["--hidden", str(args.hidden)])
    margs.rule, margs.connectivity = rule, connectivity  # one of each, as in a run
    return margs


def time_case(args, rule: str, connectivity: str) -> dict:
    margs = model_args(args, rule, connectivity)
    key = jax.random.PRNGKey(0)
    state = setup.init_state(key, margs, args.inputs, 20)
    x = (jax.random.uniform(key, (args.steps, args.batch, args.inputs)) < 0.012).astype(jnp.float32)
    labels = jax.random.randint(key, (args.batch,), 0, 20)
    step = setup.make_train_step(margs, 20, key, setup.synapse_bounds(state))
    row = {"rule": rule, "connectivity": connectivity,
           "step_ms": time_call(lambda s: step(s, x, labels), state, reps=args.reps)}  # fmt: skip
    if connectivity == "deep_r":
        state, _ = step(state, x, labels)
        row["rewire_ms"] = time_call(setup.rewire, state, key, reps=args.reps)
        row["rewire_share"] = row["rewire_ms"] / (row["step_ms"] + row["rewire_ms"])
    row["synapses"] = setup.synapse_count(state)
    return row


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    device = jax.devices()[0].device_kind
    print(f"{args.inputs} -> {args.hidden} -> 20, {args.steps} steps, batch {args.batch}; "
          f"jax {jax.__version__} on {device}; median of {args.reps}")  # fmt: skip
    rows = []
    for rule in args.rule:
        for connectivity in args.connectivity:
            rows.append(time_case(args, rule, connectivity))
            dense = [r for r in rows if r["rule"] == rule and r["connectivity"] == "dense"]
            r = rows[-1]
            ratio = f"{dense[0]['step_ms'] / r['step_ms']:7.1f}x" if dense else "       -"
            share = (
                f"  rewiring {r['rewire_ms']:.2f} ms = {100 * r['rewire_share']:.3f}%"
                if "rewire_ms" in r
                else ""
            )
            print(f"{rule:6s} {connectivity:7s} {r['step_ms']:10.1f} ms/step  {ratio} vs dense  "
                  f"{r['synapses']:7d} synapses{share}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {**run_meta(args.reps), "steps": args.steps, "batch": args.batch}
    (args.out / "classifier_step.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1)
    )
    print(f"wrote {args.out / 'classifier_step.json'}")
    return rows


if __name__ == "__main__":
    main()
