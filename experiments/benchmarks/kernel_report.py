"""The kernel benchmark's figure."""

from pathlib import Path

import numpy as np


def plot(result: dict, path: Path) -> None:
    """Forward time per method, achieved bandwidth, pull/push ratio, structure vs a step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(2, 2, figsize=(13, 8.5))
    labels = [f"{r['case']['n'] // 1000}k p{r['case']['p']} {r['case']['spiking']:.0%} "
              f"b{r['case']['batch']}" for r in rows]
    x = np.arange(len(rows))
    methods = [k for k in rows[0] if k not in ("case", "bandwidth")]
    for name in methods:
        t = [r[name].get("forward_ms") for r in rows]
        ax[0, 0].plot(x, [np.nan if v is None else v for v in t], "o-", label=name, ms=3)
    ax[0, 0].set(yscale="log", ylabel="forward [ms]", title="propagation, forward")
    ax[0, 0].set_xticks(x, labels, rotation=90, fontsize=6)
    ax[0, 0].legend(fontsize=7)
    peak = result["meta"]["peak_GB_per_s"]
    ref = "nominal" if peak.get("nominal") else "copy"
    frac = [r["bandwidth"].get(f"fraction_of_{ref}") or np.nan for r in rows]
    ax[0, 1].bar(x, frac)
    ax[0, 1].axhline(0.5, color="k", ls="--", lw=0.8, label="goal: half the bandwidth")
    ax[0, 1].set(ylabel=f"fraction of {ref} bandwidth", title="spars forward, touched bytes")
    ax[0, 1].set_xticks(x, labels, rotation=90, fontsize=6)
    ax[0, 1].legend(fontsize=7)
    epr = [r["case"]["events_per_row"] for r in rows]
    ratio = [r["spars-pull"]["forward_ms"] / r["spars"]["forward_ms"] for r in rows]
    ax[1, 0].loglog(epr, ratio, "o")
    ax[1, 0].axhline(1.0, color="k", lw=0.8)
    ax[1, 0].set(xlabel="events per presynaptic row (batch x spiking)", ylabel="pull / push time",
                 title="push or pull (below 1: pull wins)")
    s = result["structure"]
    names = list(s["per_propagation_step"])
    ax[1, 1].bar(names, [s["per_propagation_step"][k] for k in names])
    ax[1, 1].set(ylabel="time / one propagation step (1% spiking)",
                 title=f"structure at n={s['n']}, p={s['p']}")
    fig.suptitle(f"{result['meta']['device']}, jax {result['meta']['jax']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
