"""Scale-out study: communicated bytes and time per step vs number of devices.

    python -m experiments.scale_out --quick
    python -m experiments.scale_out --devices 1 2 4 8 --neurons 16384

Each device count runs in a process of its own with that many forced CPU
devices (``--xla_force_host_platform_device_count``): a network of Poisson
inputs and recurrent LIF neurons, simulated with its projections split by
presynaptic rows (``rows``: partial input reduce-scattered) and by
postsynaptic block (``blocked``: spikes exchanged as a bitmask or an event
list), and on one device without sharding. Every run must give the same
spikes. Bytes are what each device sends per step (ring collectives), from
the spike counts of each device and step and the collectives of the compiled
program. Writes ``summary.json`` and ``scale_out.png`` to ``--out`` and
prints the table and the communication model for 1-64 GPUs
(:mod:`.model`, docs/scale_out.md).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from . import figures, model
from .network import LAYOUTS

QUICK = dict(neurons=4096, steps=100, repeats=2)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="about two minutes on a 2-core CPU")
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--layout", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    p.add_argument("--neurons", type=int, default=16384, help="per population")
    p.add_argument("--synapses", type=int, default=100, help="per presynaptic neuron")
    p.add_argument("--rate", type=float, default=5.0, help="Poisson input rate [Hz]")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=200, help="1 ms steps per timed run")
    p.add_argument("--repeats", type=int, default=3, help="timed runs (best is kept)")
    p.add_argument("--event-capacity", type=int, default=None,
                   help="events per device and step (default: spars')")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/scale_out"))
    first = p.parse_args(argv)
    if first.quick:
        p.set_defaults(**QUICK)
    args = p.parse_args(argv)
    bad = [d for d in args.devices if args.neurons % d]
    if bad:
        p.error(f"--neurons {args.neurons} is not a multiple of --devices {bad}")
    return args


def run_worker(args, devices: int) -> dict:
    """Runs :mod:`.worker` with ``devices`` forced CPU devices; its JSON record."""
    cfg = {"devices": devices, "neurons": args.neurons, "synapses": args.synapses,
           "rate": args.rate, "batch": args.batch, "steps": args.steps, "repeats": args.repeats,
           "event_capacity": args.event_capacity, "seed": args.seed, "layouts": args.layout}
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    env = {**os.environ, "XLA_FLAGS": flags.strip(), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-m", "experiments.scale_out.worker", json.dumps(cfg)],
                          env=env, capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"worker with {devices} devices failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bytes_per_step(row: dict, args) -> float:
    """Mean bytes one device sends per step in ``row``'s layout."""
    d = row["devices"]
    if row["layout"] == "one_device" or d == 1:
        return 0.0
    if row["layout"] == "rows":
        return model.rows_bytes(args.neurons, args.batch, d, projections=2)
    total = 0.0
    for counts in row["counts"].values():  # each population's spikes are sent one step later
        sent = [[0] * d] + counts[:-1]
        total += sum(model.exchange_bytes(c, args.neurons, args.batch, d, args.event_capacity)
                     for c in sent) / len(sent)  # fmt: skip
    return total


def summarize(records: list[dict], args) -> list[dict]:
    rows = []
    for record in records:
        for row in record["rows"]:
            events = [c for counts in row["counts"].values() for c in counts]
            rows.append({"layout": row["layout"], "devices": row["devices"],
                         "ms_per_step": row["ms_per_step"],
                         "bytes_per_step": bytes_per_step(row, args),
                         "max_spikes_per_device_step": int(np.max(events)),
                         "collectives": row["collectives"], "checksum": row["checksum"]})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'layout':>11} {'devices':>7} {'ms/step':>9} {'bytes/step/device':>18}")
    for r in rows:
        print(f"{r['layout']:>11} {r['devices']:>7} {r['ms_per_step']:>9.3f} "
              f"{r['bytes_per_step']:>18,.0f}")
    print("\nmodel, B = 1, 5 Hz, dt = 0.1 ms: bytes one device sends per biological second")
    print(f"{'neurons':>11} {'GPUs':>5} {'rows RS':>10} {'bitmask':>10} {'events':>10} "
          f"{'NEST 8B/spike':>13}")
    for m in model.table():
        print(f"{m['neurons']:>11,} {m['devices']:>5} {_si(m['rows_reduce_scatter']):>10} "
              f"{_si(m['bitmask_all_gather']):>10} {_si(m['events_all_gather']):>10} "
              f"{_si(m['nest_alltoall']):>13}")


def _si(x: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.0f} B"


def main(argv=None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional
        def tqdm(x, **_):
            return x
    records = [run_worker(args, d) for d in tqdm(args.devices, desc="device counts", unit="run")]
    rows = summarize(records, args)
    sums = {json.dumps(r["checksum"], sort_keys=True) for r in rows}
    if len(sums) != 1:
        raise RuntimeError(f"the layouts gave different spikes: {sums}")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "device": records[0]["device"], "rows": rows, "model": model.table()}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    figures.plot(args.out, rows)
    print_table(rows)
    print(f"\nwrote {args.out / 'summary.json'}")
    return summary
