"""Summary table, CSV/JSON files and figures of ``experiments.classifier``."""

import csv
import json
from pathlib import Path

import numpy as np

EPOCH_FIELDS = (
    "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "rate_hz",
    "train_time_s", "rewire_time_s", "eval_time_s", "synapses", "weight_bytes",
    "removed", "added", "failed",
)  # fmt: skip


def write_run(folder: Path, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(record, indent=1))
    with open(folder / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, EPOCH_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(record["epochs"])


def epoch_time(record: dict) -> float:
    """Median training time per epoch [s], leaving out the first (compiling) epoch."""
    times = [e["train_time_s"] + e["rewire_time_s"] for e in record["epochs"]]
    return float(np.median(times[1:] if len(times) > 1 else times))


def summarise(records: list[dict]) -> list[dict]:
    """One row per (rule, connectivity): accuracy over seeds, time ratios, DEEP R share."""
    groups: dict[tuple, list] = {}
    for r in records:
        groups.setdefault((r["config"]["rule"], r["config"]["connectivity"]), []).append(r)
    rows = []
    for (rule, conn), runs in sorted(groups.items()):
        acc = [r["epochs"][-1]["test_accuracy"] for r in runs]
        timed = [e for r in runs for e in (r["epochs"][1:] or r["epochs"])]  # after compiling
        train = sum(e["train_time_s"] for e in timed)
        rewire = sum(e["rewire_time_s"] for e in timed)
        rows.append({
            "rule": rule, "connectivity": conn, "seeds": [r["config"]["seed"] for r in runs],
            "test_accuracy_mean": float(np.mean(acc)), "test_accuracy_sd": float(np.std(acc)),
            "test_accuracy": acc, "epoch_time_s": float(np.median([epoch_time(r) for r in runs])),
            "synapses": runs[0]["epochs"][-1]["synapses"],
            "weight_bytes": runs[0]["epochs"][-1]["weight_bytes"],
            "rewiring_share": rewire / (train + rewire) if rewire else 0.0,
        })  # fmt: skip
    for row in rows:
        dense = [d for d in rows if d["rule"] == row["rule"] and d["connectivity"] == "dense"]
        row["speedup_vs_dense"] = dense[0]["epoch_time_s"] / row["epoch_time_s"] if dense else None
    return rows


def print_summary(rows: list[dict]) -> None:
    print(f"\n{'rule':6s} {'connectivity':12s} {'test acc [%]':>14s} {'s/epoch':>8s} "
          f"{'x dense':>8s} {'synapses':>9s} {'DEEP R share':>12s}")  # fmt: skip
    for r in rows:
        speed = f"{r['speedup_vs_dense']:8.2f}" if r["speedup_vs_dense"] else f"{'-':>8s}"
        acc = f"{100 * r['test_accuracy_mean']:6.1f} +- {100 * r['test_accuracy_sd']:4.1f}"
        share = f"{100 * r['rewiring_share']:11.2f}%" if r["connectivity"] == "deep_r" else ""
        print(f"{r['rule']:6s} {r['connectivity']:12s} {acc:>14s} {r['epoch_time_s']:8.2f} "
              f"{speed} {r['synapses']:9d} {share:>12s}")  # fmt: skip


def write_summary(out: Path, rows: list[dict]) -> None:
    (out / "summary.json").write_text(json.dumps(rows, indent=1))
    with open(out / "summary.csv", "w", newline="") as f:
        fields = [k for k in rows[0] if k not in ("seeds", "test_accuracy")]
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def plot_all(out: Path, records: list[dict]) -> list[Path]:
    """Accuracy curves, rewiring counts, weight and row-length distributions (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, draw in (
        ("accuracy", _accuracy), ("rewiring", _rewiring),
        ("weights", _weights), ("row_lengths", _row_lengths),
    ):  # fmt: skip
        fig, ax = plt.subplots(figsize=(6, 4))
        if draw(ax, records):
            fig.tight_layout()
            fig.savefig(out / f"{name}.png", dpi=120)
            paths.append(out / f"{name}.png")
        plt.close(fig)
    return paths


def _label(r):
    return f"{r['config']['connectivity']} ({r['config']['rule']})"


def _accuracy(ax, records):
    colours = {}
    for r in records:
        label = None if _label(r) in colours else _label(r)  # one legend entry per kind
        colour = colours.setdefault(_label(r), f"C{len(colours)}")
        epochs = [e["epoch"] for e in r["epochs"]]
        acc = [100 * e["test_accuracy"] for e in r["epochs"]]
        ax.plot(epochs, acc, color=colour, marker="o", label=label)
    ax.set(xlabel="epoch", ylabel="test accuracy [%]", title="dense vs static sparse vs DEEP R")
    ax.legend()
    return True


def _rewiring(ax, records):
    runs = [r for r in records if r["config"]["connectivity"] == "deep_r"]
    for r in runs[:2]:
        counts = np.asarray(r["rewiring"])
        if counts.size:
            ax.plot(counts[:, 0], label=f"input, {_label(r)} seed {r['config']['seed']}")
            ax.plot(counts[:, 1], label=f"recurrent, {_label(r)} seed {r['config']['seed']}")
    ax.set(xlabel="batch", ylabel="synapses rewired", title="DEEP R rewiring per batch")
    ax.legend(fontsize=7)
    return bool(runs)


def _weights(ax, records):
    seen = set()
    for r in records:
        if _label(r) in seen:
            continue
        seen.add(_label(r))
        hist = r["final"]["recurrent_weights"]
        ax.stairs(hist["density"], hist["edges"], label=_label(r))
    ax.set(
        xlabel="recurrent weight", ylabel="density", title="weights after training", yscale="log"
    )
    ax.legend(fontsize=7)
    return True


def _row_lengths(ax, records):
    runs = [r for r in records if r["config"]["connectivity"] == "deep_r"]
    if not runs:
        return False
    for key, label in (("initial", "before"), ("final", "after")):
        for proj in ("input", "recurrent"):
            lengths = runs[0][key][f"{proj}_row_lengths"]
            bins = np.arange(max(lengths) + 2) - 0.5
            ax.hist(lengths, bins, histtype="step", label=f"{proj}, {label} training")
    ax.set(xlabel="synapses in a row", ylabel="presynaptic neurons", title="DEEP R row lengths")
    ax.legend(fontsize=7)
    return True
