"""Figures of the microcircuit: a 100 ms raster and the population rates beside the published."""

from pathlib import Path

import numpy as np

from . import params as P
from . import stats

LABELS = ("L2/3e", "L2/3i", "L4e", "L4i", "L5e", "L5i", "L6e", "L6i")
COLORS = ("#595289", "#af143c")  # excitatory, inhibitory


def plot_all(out: Path, spikes: dict, sizes, table: dict, window=(0.0, 100.0)) -> list[Path]:
    """``raster.png`` (``window`` [ms]) and ``rates.png``; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    return [raster(plt, out, spikes, sizes, window), rates(plt, out, table)]


def raster(plt, out: Path, spikes: dict, sizes, window, per_population: int = 200) -> Path:
    """Up to ``per_population`` neurons of each population, L2/3 on top."""
    fig, ax = plt.subplots(figsize=(6, 5))
    top, ticks = 0, []
    for i, name in enumerate(P.POPULATIONS):
        times, units = spikes[name]
        shown = min(per_population, int(sizes[i]))
        pick = (units < shown) & (times >= window[0]) & (times < window[1])
        ax.scatter(times[pick], top - units[pick], s=1.5, marker="|", c=COLORS[i % 2])
        ticks.append(top - shown / 2)
        top -= shown + 20
    ax.set_yticks(ticks, LABELS)
    ax.set(xlabel="time [ms]", xlim=window,
           title=f"{per_population} neurons per population")  # fmt: skip
    fig.tight_layout()
    fig.savefig(out / "raster.png", dpi=130)
    plt.close(fig)
    return out / "raster.png"


def rates(plt, out: Path, table: dict) -> Path:
    """Bars of the simulated rates; published runs as markers, the accepted band as a range."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(8)
    values = [table[name]["rate_hz"] for name in P.POPULATIONS]
    ax.bar(x, values, color=[COLORS[i % 2] for i in x], alpha=0.8, label="spars")
    band = stats.reference_band()
    ax.vlines(x, band[:, 0], band[:, 1], color="k", lw=3, alpha=0.3, label="accepted band")
    ax.scatter(x, P.RATES_NEST3, marker="_", s=200, c="k", label="NEST 3 (published)")
    ax.scatter(x, P.RATES_2016, marker="x", s=25, c="k", label="2016 run (published)")
    ax.set_xticks(x, LABELS)
    ax.set(ylabel="rate [Hz]", title="population rates")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "rates.png", dpi=130)
    plt.close(fig)
    return out / "rates.png"
