"""The microcircuit in spars and in NEST on one CPU: build, compile, simulation, real-time factor.

    python -m experiments.microcircuit.benchmark              # full scale; NEST on 1 and 2 threads
    python -m experiments.microcircuit.benchmark --quick      # 10 % of the neurons
    python -m experiments.microcircuit.benchmark --threads 2 --t-sim 1000 --poisson

Each simulator runs in a process of its own, one after the other (its memory
peak is its own; nothing runs beside it), on the same model (:mod:`.config`):
the DC background by default, as the PyNEST example recommends for
benchmarks, ``--poisson`` for the Poisson background. The real-time factor is
wall time per biological time of the analysed window (``--t-sim``, after a
``--t-presim`` warm-up); spars' compilation is reported apart. Without
``nest-simulator`` only spars runs. Writes ``benchmark.json`` to ``--out``
and prints published GPU figures beside the measured ones.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import nest_model, report, stats
from . import run as R
from .config import Config, checked_for_cli, model

QUICK = dict(scale=0.1, t_presim=100.0, t_sim=500.0)
PUBLISHED_GPU = (  # quoted from the publications, not measured here
    ("GeNN, 1 NVIDIA Tesla V100", "full-scale microcircuit simulated 'at speeds approaching 0.5x "
     "real-time'", "Knight & Nowotny (2018) Front. Neurosci. 12:941"),
    ("NEST GPU, 1 NVIDIA RTX 4090", "'80 thousand neurons and 200 million synapses with a real "
     "time factor of 0.4'", "Villamar et al. (2025) CNS*2025 showcase, FZJ-2025-03047"),
)  # fmt: skip


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10 %% of the neurons, 0.1 + 0.5 s")
    p.add_argument("--scale", type=float, default=1.0, help="neuron numbers, in (0, 1]")
    p.add_argument("--k-scale", type=float, default=1.0, help="in-degrees, in (0, 1]")
    p.add_argument("--poisson", action="store_true", help="Poisson background instead of DC")
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="NEST's threads")
    p.add_argument("--t-presim", type=float, default=100.0, help="warm-up [ms]")
    p.add_argument("--t-sim", type=float, default=1000.0, help="timed, analysed time [ms]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-spars", action="store_true")
    p.add_argument("--out", type=Path, default=Path("results/microcircuit"))
    p.add_argument("--worker", choices=("spars", "nest"), help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    first = p.parse_args(argv)
    if first.quick:
        p.set_defaults(**QUICK)
    return p.parse_args(argv)


def config_of(args) -> Config:
    cfg = Config(n_scale=args.scale, k_scale=args.k_scale, poisson=args.poisson,
                 t_presim=args.t_presim, t_sim=args.t_sim, seed=args.seed)  # fmt: skip
    return checked_for_cli(cfg)


def worker(args) -> dict:
    """One simulator's run in this process: timings, memory peak, population table."""
    cfg, load = config_of(args), os.getloadavg()
    m = model(cfg)
    if args.worker == "spars":
        net, build = R.build(m, cfg, progress=False)
        spikes, timing = R.simulate(net, cfg, progress=False)
        timing = {**build, **timing}
    else:
        spikes, timing = nest_model.run(m, cfg, args.worker_threads)
    table = stats.population_table(spikes, m.sizes, cfg.t_sim)
    return {**timing, "host_peak_bytes": R.peak_rss_bytes(), "load_before": load,
            "load_after": os.getloadavg(), "populations": table}  # fmt: skip


def spawn(argv: list[str], name: str, threads: int = 1) -> dict:
    """Runs ``worker`` for ``name`` in a fresh interpreter: its record, or ``{"error": ...}``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "worker.json"
        command = [sys.executable, "-m", "experiments.microcircuit.benchmark", *argv, "--worker",
                   name, "--worker-threads", str(threads), "--worker-out", str(out)]  # fmt: skip
        done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            return {"error": (done.stderr.strip().splitlines() or ["no message"])[-1]}
        return json.loads(out.read_text())


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        args.worker_out.write_text(json.dumps(worker(args), default=report._plain))
        return {}
    cfg = config_of(args)
    m = model(cfg)
    print(f"microcircuit: {m.sizes.sum()} neurons, {m.n_synapses:,} synapses, "
          f"{'Poisson' if cfg.poisson else 'DC'} background; {cfg.t_presim:.0f} ms warm-up, "
          f"{cfg.t_sim:.0f} ms timed; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    runs = {}
    if not args.skip_spars:
        runs["spars"] = spawn(argv, "spars")
        print_run("spars", runs["spars"])
    if nest_model.available():
        for threads in args.threads:
            name = f"nest_{threads}t"
            runs[name] = spawn(argv, "nest", threads)
            print_run(name, runs[name])
    else:
        print("nest-simulator is not installed: NEST runs skipped")
    result = {"config": cfg._asdict(), "neurons": int(m.sizes.sum()), "synapses": m.n_synapses,
              "runs": runs, "published_gpu": [list(p) for p in PUBLISHED_GPU]}  # fmt: skip
    print_table(result)
    path = report.save(args.out, result, "benchmark.json")
    print(f"wrote {path}")
    return result


def print_run(name: str, r: dict) -> None:
    if "error" in r:
        print(f"  {name}: failed: {r['error']}")
        return
    rates = " ".join(f"{v['rate_hz']:.2f}" for v in r["populations"].values())
    print(f"  {name}: simulation {r['sim_s']:.1f} s, real-time factor "
          f"{r['real_time_factor']:.2f}; rates [Hz] {rates}")  # fmt: skip


def print_table(result: dict) -> None:
    print(f"\n  {'':12s} {'build [s]':>9s} {'compile [s]':>11s} {'sim [s]':>8s} {'CPU [s]':>8s} "
          f"{'RTF':>6s} {'peak [GiB]':>10s} {'load':>10s}")  # fmt: skip
    for name, r in result["runs"].items():
        if "error" in r:
            print(f"  {name:12s} failed: {r['error']}")
            continue
        compile_s = f"{r['compile_s']:.1f}" if "compile_s" in r else "-"
        load = f"{r['load_before'][0]:.1f}-{r['load_after'][0]:.1f}"
        peak, rtf = r["host_peak_bytes"] / 2**30, r["real_time_factor"]
        print(f"  {name:12s} {r['build_s']:9.1f} {compile_s:>11s} {r['sim_s']:8.1f} "
              f"{r['sim_cpu_s']:8.1f} {rtf:6.2f} {peak:10.2f} {load:>10s}")  # fmt: skip
    print("  published GPU figures (full-scale microcircuit unless stated):")
    for who, what, where in result["published_gpu"]:
        print(f"    {who}: {what} [{where}]")


if __name__ == "__main__":
    main()
