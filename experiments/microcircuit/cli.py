"""The cortical microcircuit (Potjans & Diesmann 2014) in spars: rates, irregularity, synchrony.

    python -m experiments.microcircuit            # full scale: 77,169 neurons, ~3e8 synapses
    python -m experiments.microcircuit --quick    # 10 % of the neurons and in-degrees
    python -m experiments.microcircuit --scale 0.2 --k-scale 0.5 --dc

Builds the published model (:mod:`.params`, :mod:`.model`), runs a warm-up
and the analysed time in chunks of 100 ms, and prints each population's rate
beside the published full-scale rates, the CV of inter-spike intervals and a
synchrony measure (:mod:`.stats`), with build, compile and simulation times
and the real-time factor. Writes ``summary.json``, ``raster.png`` (100 ms)
and ``rates.png`` to ``--out``. The side-by-side with NEST is
``python -m experiments.microcircuit.benchmark``.
"""

import argparse
from pathlib import Path

import jax

from . import figures, report, stats
from . import params as P
from . import run as R
from .config import Config, checked_for_cli, model

QUICK = dict(scale=0.1, k_scale=0.1, t_presim=200.0, t_sim=1000.0)


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="10 %% of the neurons and in-degrees, 0.2 + 1 s")  # fmt: skip
    p.add_argument("--scale", type=float, default=1.0, help="neuron numbers, in (0, 1]")
    p.add_argument("--k-scale", type=float, default=1.0,
                   help="in-degrees, in (0, 1]; weights and DC compensate")  # fmt: skip
    p.add_argument("--dc", action="store_true", help="DC background instead of Poisson input")
    p.add_argument("--v0", choices=("optimized", "original"), default="optimized",
                   help="initial potentials: per population (NEST 3) or one for all")  # fmt: skip
    p.add_argument("--t-presim", type=float, default=P.T_PRESIM, help="warm-up [ms]")
    p.add_argument("--t-sim", type=float, default=P.T_SIM, help="analysed time [ms]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/microcircuit"))
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    first = p.parse_args(argv)
    if first.quick:
        p.set_defaults(**QUICK)
    return p.parse_args(argv)


def config_of(args) -> Config:
    cfg = Config(n_scale=args.scale, k_scale=args.k_scale, poisson=not args.dc, v0=args.v0,
                 t_presim=args.t_presim, t_sim=args.t_sim, seed=args.seed)  # fmt: skip
    return checked_for_cli(cfg)


def run_model(cfg: Config, progress: bool = True) -> tuple[dict, dict]:
    """Builds, runs and analyses the spars model; ``(summary, spikes)``."""
    m = model(cfg)
    print(f"building {m.sizes.sum()} neurons, {m.n_synapses:,} synapses; jax "
          f"{jax.__version__} on {jax.devices()[0].device_kind}")  # fmt: skip
    net, build = R.build(m, cfg, progress)
    spikes, timing = R.simulate(net, cfg, progress)
    del net
    table = stats.population_table(spikes, m.sizes, cfg.t_sim)
    return report.summary(cfg, m, build, timing, table), spikes


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = config_of(args)
    summary, spikes = run_model(cfg, not args.no_progress)
    report.print_summary(summary)
    path = report.save(args.out, summary)
    window = (0.0, min(100.0, cfg.t_sim))
    paths = figures.plot_all(args.out, spikes, model(cfg).sizes, summary["populations"], window)
    print(f"wrote {path}" + "".join(f", {p.name}" for p in paths))
    return summary
