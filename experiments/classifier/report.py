"""Summary table, CSV/JSON files and figures of the classifier study."""

import csv
import json
from pathlib import Path

import numpy as np

EPOCH_FIELDS = (
    "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "rate_hz",
    "train_time_s", "rewire_time_s", "eval_time_s", "synapses", "weight_bytes",
    "removed", "added", "failed", "informative_fraction",
)  # fmt: skip
BASELINE = "gru"  # the ``connectivity`` of baseline records


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
    rows = [_row(rule, conn, runs) for (rule, conn), runs in sorted(groups.items())]
    base = [r for r in rows if r["connectivity"] == BASELINE]
    for row in rows:
        dense = [d for d in rows if d["rule"] == row["rule"] and d["connectivity"] == "dense"]
        row["speedup_vs_dense"] = dense[0]["epoch_time_s"] / row["epoch_time_s"] if dense else None
        if base:
            row["gap_to_baseline"] = row["test_accuracy_mean"] - base[0]["test_accuracy_mean"]
    return rows


def _row(rule: str, conn: str, runs: list[dict]) -> dict:
    acc = [r["epochs"][-1]["test_accuracy"] for r in runs]
    timed = [e for r in runs for e in (r["epochs"][1:] or r["epochs"])]  # after compiling
    train = sum(e["train_time_s"] for e in timed)
    rewire = sum(e["rewire_time_s"] for e in timed)
    last = runs[0]["epochs"][-1]
    return {
        "rule": rule, "connectivity": conn, "seeds": [r["config"]["seed"] for r in runs],
        "test_accuracy_mean": float(np.mean(acc)), "test_accuracy_sd": float(np.std(acc)),
        "test_accuracy": acc, "epoch_time_s": float(np.median([epoch_time(r) for r in runs])),
        "eval_time_s": float(np.median([e["eval_time_s"] for e in timed])),
        "synapses": last["synapses"], "weight_bytes": last.get("weight_bytes"),
        "rewiring_share": rewire / (train + rewire) if rewire else 0.0,
    }  # fmt: skip


def print_summary(rows: list[dict]) -> None:
    print(f"\n{'rule':6s} {'connectivity':12s} {'test acc [%]':>14s} {'vs GRU':>7s} "
          f"{'s/epoch':>8s} {'x dense':>8s} {'eval [s]':>8s} {'synapses':>9s} "
          f"{'DEEP R share':>12s}")  # fmt: skip
    for r in rows:
        speed = f"{r['speedup_vs_dense']:8.2f}" if r["speedup_vs_dense"] else f"{'-':>8s}"
        acc = f"{100 * r['test_accuracy_mean']:6.1f} +- {100 * r['test_accuracy_sd']:4.1f}"
        gap = f"{100 * r['gap_to_baseline']:+7.1f}" if "gap_to_baseline" in r else f"{'-':>7s}"
        share = f"{100 * r['rewiring_share']:11.2f}%" if r["connectivity"] == "deep_r" else ""
        print(f"{r['rule']:6s} {r['connectivity']:12s} {acc:>14s} {gap} {r['epoch_time_s']:8.2f} "
              f"{speed} {r['eval_time_s']:8.2f} {r['synapses']:9d} {share:>12s}")  # fmt: skip


def write_summary(out: Path, rows: list[dict]) -> None:
    (out / "summary.json").write_text(json.dumps(rows, indent=1))
    with open(out / "summary.csv", "w", newline="") as f:
        fields = [k for k in rows[0] if k not in ("seeds", "test_accuracy")]
        fields += ["gap_to_baseline"] if "gap_to_baseline" not in fields else []
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
