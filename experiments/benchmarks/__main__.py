"""spars beside its CPU peers in one run: propagation, gradients, a LIF loop, scaling, NEST.

    python -m experiments.benchmarks [--quick] [--skip brunel] [--out results/benchmarks]

Rows (each method timed in turns with the others, medians; ratios are
``peer time / spars time``, so above 1 means spars is faster):

1. ``propagate``: one step forward and forward+backward at the reference
   cases (spars, its XLA twins, dense, BCOO, brainevent's CSR);
2. ``lif_loop``: a 20,000-neuron recurrent LIF loop, 1000 steps in a scan;
3. ``scaling``: one step at 10k / 100k / 300k neurons, fan-out 20;
4. ``brunel``: a whole Brunel network in spars and in NEST on 1 and 2 threads.

brainevent and NEST take part when installed (``pip install brainevent
nest-simulator``). Writes ``peers.json`` into ``--out``.
"""

import argparse
import json
from pathlib import Path

import jax

from experiments.benchmarks import brunel, loops, propagate
from experiments.common.timing import run_meta

SECTIONS = ("propagate", "lif_loop", "scaling", "brunel")
FULL = {"lif_loop": {}, "scaling": (10_000, 100_000, 300_000), "brunel": ((10_000, 50_000), 1e3)}
QUICK = {"lif_loop": dict(n=2000, steps=200), "scaling": (2000, 10_000), "brunel": ((2000,), 100.0)}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=[], metavar="METHOD",
                        help="propagate: time only these methods (e.g. spars brainevent: no "
                             "dense or BCOO call between them to sweep the caches)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args(argv)
    if args.only and "spars" not in args.only:
        parser.error("--only needs spars among the methods: the ratios are to spars")
    return args


def run(args) -> dict:
    """Every section not skipped; ``{section: rows}``."""
    reps = args.reps or (3 if args.quick else 9)
    sizes = QUICK if args.quick else FULL
    todo, out = [s for s in SECTIONS if s not in args.skip], {"meta": run_meta(reps)}
    if "propagate" in todo:
        cases = propagate.CASES[:1] if args.quick else propagate.CASES
        key = jax.random.key(args.seed)
        out["propagate"] = [propagate.run_case(jax.random.fold_in(key, k), case, reps,
                                               tuple(args.only))
                            for k, case in enumerate(cases)]  # fmt: skip
    if "lif_loop" in todo:
        out["lif_loop"] = [loops.lif_loop(reps=reps, seed=args.seed, **sizes["lif_loop"])]
    if "scaling" in todo:
        out["scaling"] = loops.scaling(sizes["scaling"], reps=4 * reps, seed=args.seed)
    if "brunel" in todo:
        networks, t_sim = sizes["brunel"]
        out["brunel"] = [brunel.compare(brunel.Brunel(n=n, t_sim=t_sim), (1, 2), args.seed)
                         for n in networks]  # fmt: skip
    return out


def ratio_table(rows: list[dict], what: str) -> list[str]:
    """One line per row: each method's ``what`` and its ratio to spars."""
    lines = []
    for row in rows:
        case = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row["case"].items())  # fmt: skip
        ref = row["spars"][what]
        cells = [f"{name} {r[what]:.3f} ({r[what] / ref:.2f}x)" for name, r in row.items()
                 if name != "case" and r is not None and what in r]  # fmt: skip
        lines.append(f"  {case}\n    " + "  ".join(cells))
    return lines


def report(out: dict) -> None:
    tables = [("propagate", "forward_ms"), ("propagate", "forward_backward_ms"),
              ("lif_loop", "ms_per_step"), ("scaling", "forward_ms")]  # fmt: skip
    for section, what in tables:
        if section in out:
            print(f"\n{section}: {what} (x: peer time / spars time)")
            print("\n".join(ratio_table(out[section], what)))
    for row in out.get("brunel", []):
        brunel.print_row(row)


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    out = run(args)
    report(out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.out / 'peers.json'}")
    return out


if __name__ == "__main__":
    main()
