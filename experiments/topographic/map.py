"""Topographic map formation with STDP and structural plasticity.

    python -m experiments.topographic --quick
    python -m experiments.topographic --scale 2 --duration 600
    python -m experiments.topographic --stdp columns   # the column-view formulation

The network of :mod:`experiments.topographic.model` (Bamford, Murray &
Willshaw 2010; Knight, Senk & Nowotny 2025), dt = 0.1 ms, rewired every
1 ms. Every ``--record-every`` seconds of model time the connectivity
metrics are recorded. Writes ``topographic.json`` (settings, metrics over
time, formation/elimination histograms, speed and its breakdown) and
figures to ``--out``.
"""

import argparse
import json
from dataclasses import asdict
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax
from tqdm import tqdm

from experiments.common.timing import stopwatch
from experiments.topographic import metrics, model, report, timing

QUICK = dict(scale=1, duration=60.0, record_every=5.0, timing_steps=500)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="s = 1 for 60 s of model time")
    p.add_argument("--scale", type=int, default=1, help="s: (16 s)^2 neurons per layer")
    p.add_argument("--duration", type=float, default=300.0, help="model time [s]")
    p.add_argument("--record-every", type=float, default=10.0, help="metrics period [s]")
    p.add_argument("--stdp", default="rows", choices=["rows", "columns"])
    p.add_argument("--max-in-degree", type=int, default=None, help="cap on formations")
    p.add_argument("--headroom", type=float, default=2.0, help="row capacity factor")
    p.add_argument("--timing-steps", type=int, default=2000, help="steps per component timing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/topographic")
    p.add_argument("--no-figures", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    if args.duration <= 0 or args.record_every <= 0 or args.scale < 1:
        p.error("--duration, --record-every and --scale must be positive")
    return args


def params_of(args) -> model.MapParams:
    return model.MapParams(
        scale=args.scale,
        stdp=args.stdp,
        max_in_degree=args.max_in_degree,
        headroom=args.headroom,
    )


@partial(jax.jit, static_argnums=(0, 2))
def run_period(p: model.MapParams, state: model.MapState, n_blocks: int):
    """``n_blocks`` rewiring blocks; returns the state and the period's sums."""

    def block(s, _):
        s, counts, rewired = model.run_block(p, s)
        out = {"spikes": jnp.stack(counts)}
        for name, (stats, events) in rewired.items():
            out[name] = {"stats": jnp.stack(stats), **metrics.event_histograms(p, events)}
        return s, out

    state, per_block = lax.scan(block, state, length=n_blocks)
    return state, jax.tree.map(lambda x: jnp.sum(x, axis=0), per_block)


def simulate(p: model.MapParams, state, n_periods: int, n_blocks: int):
    """Runs the periods with a progress bar; returns state, records and run wall time [s]."""
    run_period.lower(p, state, n_blocks).compile()  # fills jit's cache: periods time no compile
    records, totals = [_record(p, state, 0.0, None)], {"wall": 0.0}
    for k in tqdm(range(n_periods), desc=f"map s={p.scale}", unit="period"):
        with stopwatch(totals, "wall"):
            state, sums = jax.block_until_ready(run_period(p, state, n_blocks))
        seconds = (k + 1) * n_blocks * p.rewire_every * 1e-3
        records.append(_record(p, state, seconds, sums))
    return state, records, totals["wall"]


def _record(p, state, seconds, sums):
    rec = {"time_s": seconds, **metrics.to_lists(metrics.snapshot(p, state))}
    if sums is not None:
        rec["period"] = metrics.to_lists(sums)
    return rec


def main(argv=None) -> dict:
    args = parse_args(argv)
    p = params_of(args)
    n_blocks = round(args.record_every * 1e3 / p.rewire_every)
    n_periods = max(1, round(args.duration / args.record_every))
    state = model.init_state(jax.random.key(args.seed), p)
    state, records, wall = simulate(p, state, n_periods, n_blocks)
    model_s = records[-1]["time_s"]
    breakdown = timing.breakdown(p, state, args.timing_steps)
    result = {
        "params": asdict(p),
        "args": vars(args),
        "devices": [str(d) for d in jax.devices()],
        "jax_version": jax.__version__,
        "wall_s": wall,
        "model_s": model_s,
        "real_time_factor": wall / model_s,
        "breakdown_s_per_model_s": breakdown,
        "pairs_per_bin": {
            "ff": metrics.pairs_per_bin(p, True).tolist(),
            "lat": metrics.pairs_per_bin(p, False).tolist(),
        },
        "expected_degree": {"ff": p.expected_degree("ff"), "lat": p.expected_degree("lat")},
        "records": records,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "topographic.json").write_text(json.dumps(result))
    report.print_summary(result)
    if not args.no_figures:
        report.plot_all(result, out)
    return result


if __name__ == "__main__":
    main()
