"""Printing and saving a microcircuit run: the population table beside the published rates."""

import json
import os
import platform
from pathlib import Path

import jax
import numpy as np

from . import params as P
from . import stats
from .config import Config, Model


def summary(cfg: Config, m: Model, build: dict, timing: dict, table: dict) -> dict:
    """Everything a run reports, JSON-ready."""
    compared = stats.compare_rates(table)
    rates = [table[name]["rate_hz"] for name in P.POPULATIONS]
    return {
        "config": cfg._asdict(),
        "neurons": int(m.sizes.sum()),
        "synapses": m.n_synapses,
        "sizes": dict(zip(P.POPULATIONS, m.sizes.tolist(), strict=True)),
        "dc_pa": dict(zip(P.POPULATIONS, m.dc.round(3).tolist(), strict=True)),
        "build": build,
        "timing": timing,
        "populations": {name: {**table[name], **compared[name]} for name in P.POPULATIONS},
        "rates_within_band": sum(c["within"] for c in compared.values()),
        "rank_agreement": stats.rank_agreement(rates),
        "machine": machine(),
    }


def machine() -> dict:
    """JAX version, device, CPU and the load average when asked."""
    return {"jax": jax.__version__, "device": jax.devices()[0].device_kind,
            "cpu": platform.processor() or platform.machine(),
            "load_average": os.getloadavg()}  # fmt: skip


def print_summary(s: dict) -> None:
    """The population table and the figures of the run."""
    print(f"\n{s['neurons']} neurons, {s['synapses']:,} synapses "
          f"(n_scale {s['config']['n_scale']}, k_scale {s['config']['k_scale']}, "
          f"{'Poisson' if s['config']['poisson'] else 'DC'} background)")  # fmt: skip
    print(f"  {'':5s} {'rate [Hz]':>9s} {'NEST 3':>7s} {'2016':>6s} {'accepted':>13s} "
          f"{'CV ISI':>7s} {'sync':>6s}")  # fmt: skip
    for name, row in s["populations"].items():
        low, high = row["band_hz"]
        mark = "" if row["within"] else "  outside"
        print(f"  {name:5s} {row['rate_hz']:9.3f} {row['nest3_hz']:7.3f} "
              f"{row['nest2016_hz']:6.3f} {low:6.2f}-{high:<6.2f} {row['cv_isi']:7.3f} "
              f"{row['synchrony']:6.2f}{mark}")  # fmt: skip
    print(f"  {s['rates_within_band']}/8 rates within the accepted band; rank correlation "
          f"with the published rates {s['rank_agreement']:.2f}")  # fmt: skip
    b, t = s["build"], s["timing"]
    print(f"  build {b['build_s']:.1f} s ({b['projections']} projections, network arrays "
          f"{b['network_bytes'] / 2**30:.2f} GiB, host peak {b['host_peak_bytes'] / 2**30:.2f} "
          f"GiB); compile {t['compile_s']:.1f} s; warm-up {t['warmup_s']:.1f} s; simulation "
          f"{t['sim_s']:.1f} s ({t['sim_cpu_s']:.1f} s CPU) for {t['bio_s']:.2f} s of "
          f"biological time: real-time factor {t['real_time_factor']:.2f}")  # fmt: skip


def save(out: Path, s: dict, name: str = "summary.json") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(s, indent=1, default=_plain))
    return path


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")
