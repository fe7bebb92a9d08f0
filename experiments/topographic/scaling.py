"""How the topographic map's speed scales with its size.

    python -m experiments.topographic.scaling [--quick] [--scales 1 2 ... 7] [--out results/scaling]

For each s, (16 s)^2 neurons per layer: simulates about ``--warmup`` seconds
of model time untimed (in runs of ``--duration``, so one program is compiled),
then ``--duration`` seconds timed, and times each component alone (see
:mod:`experiments.topographic.timing`). Writes
``scaling.json`` and ``scaling.png`` (real-time factor and breakdown vs size).
"""

import argparse
import json
from pathlib import Path

import jax

from experiments.common.timing import stopwatch
from experiments.topographic import model, timing
from experiments.topographic.map import run_period


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="s = 1, 2 and short runs")
    p.add_argument("--scales", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7])
    p.add_argument("--warmup", type=float, default=1.0, help="untimed model time [s]")
    p.add_argument("--duration", type=float, default=2.0, help="timed model time [s]")
    p.add_argument("--timing-steps", type=int, default=2000, help="steps per component timing")
    p.add_argument("--stdp", default="rows", choices=["rows", "columns"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/scaling")
    args = p.parse_args(argv)
    if args.quick:
        p.set_defaults(scales=[1, 2], warmup=0.1, duration=0.2, timing_steps=200)
        args = p.parse_args(argv)
    return args


def measure(p: model.MapParams, args) -> dict:
    """Real-time factor of the fused run and the component breakdown at one size."""
    state = model.init_state(jax.random.key(args.seed), p)
    blocks = max(1, round(args.duration * 1e3 / p.rewire_every))
    for _ in range(max(1, round(args.warmup / args.duration))):  # same program: one compile
        state = jax.block_until_ready(run_period(p, state, blocks)[0])
    totals = {}
    with stopwatch(totals, "wall"):
        state = jax.block_until_ready(run_period(p, state, blocks)[0])
    wall = totals["wall"]
    model_s = blocks * p.rewire_every * 1e-3
    parts = timing.breakdown(p, state, args.timing_steps)
    structural = parts["structural update"] + parts["column-view rebuild"]
    return {
        "scale": p.scale,
        "neurons_per_layer": p.n,
        "synapses": int(state.ff.conn.n_synapses + state.lat.conn.n_synapses),
        "real_time_factor": wall / model_s,
        "breakdown_s_per_model_s": parts,
        "structural_share": structural / sum(parts.values()),
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = [r["neurons_per_layer"] for r in rows]
    fig, (ax_rtf, ax_parts) = plt.subplots(1, 2, figsize=(11, 4))
    ax_rtf.loglog(n, [r["real_time_factor"] for r in rows], "o-", label="fused run")
    ax_rtf.axhline(1.0, color="k", ls=":", label="real time")
    ax_rtf.set(xlabel="neurons per layer", ylabel="wall time / model time", title="speed")
    ax_rtf.legend()
    bottom = np.zeros(len(rows))
    for part in timing.COMPONENTS:
        share = np.array([r["breakdown_s_per_model_s"][part] for r in rows])
        share = share / np.array([sum(r["breakdown_s_per_model_s"].values()) for r in rows])
        ax_parts.bar([str(r["scale"]) for r in rows], share, bottom=bottom, label=part)
        bottom += share
    ax_parts.set(xlabel="s", ylabel="share of time", title="components timed alone")
    ax_parts.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    rows = []
    print(f"{'s':>3} {'neurons':>8} {'synapses':>9} {'RTF':>8} {'structural':>10}  breakdown [s/s]")
    for scale in args.scales:
        row = measure(model.MapParams(scale=scale, stdp=args.stdp), args)
        parts = " ".join(f"{v:.3f}" for v in row["breakdown_s_per_model_s"].values())
        print(
            f"{scale:3d} {row['neurons_per_layer']:8d} {row['synapses']:9d} "
            f"{row['real_time_factor']:8.3f} {100 * row['structural_share']:9.1f}%  {parts}"
        )
        rows.append(row)
    result = {
        "args": vars(args),
        "devices": [str(d) for d in jax.devices()],
        "jax_version": jax.__version__,
        "components": list(timing.COMPONENTS),
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(result, indent=1))
    plot(rows, out / "scaling.png")
    return result


if __name__ == "__main__":
    main()
