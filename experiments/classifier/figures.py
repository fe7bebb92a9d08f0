"""Figures of the classifier study: learning curves, DEEP R's connectivity, synapse lifetimes."""

from pathlib import Path

import numpy as np

from . import model as M
from .report import BASELINE


def plot_all(out: Path, records: list[dict]) -> list[Path]:
    """Writes ``accuracy.png``, ``connectivity.png``, ``lifetimes.png``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, draw, shape in (
        ("accuracy", _accuracy, (1, 1)),
        ("connectivity", _connectivity, (2, 2)),
        ("lifetimes", _lifetimes, (1, 2)),
    ):
        fig, axes = plt.subplots(*shape, figsize=(5.5 * shape[1], 4 * shape[0]), squeeze=False)
        if draw(axes.ravel(), records):
            fig.tight_layout()
            fig.savefig(out / f"{name}.png", dpi=120)
            paths.append(out / f"{name}.png")
        plt.close(fig)
    return paths


def _kind(r) -> str:
    c = r["config"]
    return "GRU baseline" if c["connectivity"] == BASELINE else f"{c['connectivity']} ({c['rule']})"


def _groups(records, connectivity=None):
    groups: dict[str, list] = {}
    for r in records:
        if connectivity is None or r["config"]["connectivity"] == connectivity:
            groups.setdefault(_kind(r), []).append(r)
    return groups


def _accuracy(axes, records):
    (ax,) = axes
    for i, (kind, runs) in enumerate(_groups(records).items()):
        n = min(len(r["epochs"]) for r in runs)
        acc = 100 * np.array([[e["test_accuracy"] for e in r["epochs"][:n]] for r in runs])
        epochs = np.arange(1, n + 1)
        style = "--" if kind == "GRU baseline" else "-"
        ax.plot(epochs, acc.mean(0), style, color=f"C{i}", marker="o", ms=3, label=kind)
        if len(runs) > 1:
            ax.fill_between(epochs, acc.min(0), acc.max(0), color=f"C{i}", alpha=0.2)
    ax.set(xlabel="epoch", ylabel="test accuracy [%]", title="mean over seeds (band: min-max)")
    _legend(ax, 8)
    return True


def _connectivity(axes, records):
    deep_r = [r for r in records if r["config"]["connectivity"] == "deep_r"]
    if not deep_r:
        return False
    _churn(axes[0], deep_r)
    _informative(axes[1], records)
    _weights(axes[2], deep_r[0])
    _degrees(axes[3], deep_r[0])
    return True


def _churn(ax, runs):
    for r in runs[:3]:
        counts = np.asarray(r["rewiring"], float)
        if not counts.size:
            continue
        synapses = r["epochs"][-1]["synapses"]
        window = max(1, len(counts) // 50)
        smooth = np.convolve(counts[:, :2].sum(1), np.ones(window) / window, mode="valid")
        label = f"{r['config']['rule']} seed {r['config']['seed']}"
        ax.plot(100 * smooth / synapses, label=label)
    ax.set(xlabel="batch", ylabel="synapses rewired per batch [%]", yscale="log",
           title="DEEP R churn")  # fmt: skip
    _legend(ax, 7)


def _informative(ax, records):
    for i, (kind, runs) in enumerate(_groups(records).items()):
        if "initial" not in runs[0] or "informative_fraction" not in runs[0]["initial"]:
            continue  # the GRU, or a task without known informative inputs
        fractions = [
            [r["initial"]["informative_fraction"]]
            + [e["informative_fraction"] for e in r["epochs"]]
            for r in runs
        ]
        ax.plot(100 * np.mean(np.array(fractions, float), 0), color=f"C{i}", label=kind)
    ax.set(xlabel="epoch", ylabel="input synapses from informative channels [%]",
           title="where the input synapses are (dense: weight share)")  # fmt: skip
    _legend(ax, 7)


def _weights(ax, record):
    for when in ("initial", "final"):
        for name, label in (("in", "input"), ("rec", "recurrent")):
            hist = record[when][f"{name}_weights"]
            ax.stairs(hist["density"], hist["edges"], label=f"{label}, {when}")
    ax.set(xlabel="weight", ylabel="density", yscale="log", title="DEEP R weights")
    _legend(ax, 7)


def _degrees(ax, record):
    for when, style in (("initial", ":"), ("final", "-")):
        for name, label in (("in", "input"), ("rec", "recurrent")):
            for kind in ("out", "in"):
                degree = np.asarray(record[when][f"{name}_{kind}_degree"])
                bins = np.arange(degree.max() + 2) - 0.5
                counts, _ = np.histogram(degree, bins)
                ax.plot(bins[:-1] + 0.5, counts, style, label=f"{label} {kind}-degree, {when}")
    ax.set(xlabel="synapses per neuron", ylabel="neurons", title="DEEP R degrees")
    _legend(ax, 6)


def _lifetimes(axes, records):
    deep_r = [r for r in records if r["config"]["connectivity"] == "deep_r"]
    if not deep_r:
        return False
    edges = 2.0 ** np.arange(M.AGE_BINS + 1)
    for ax, name, label in zip(axes, M.SPARSE, ("input", "recurrent"), strict=True):
        for r in deep_r[:3]:
            by_age = np.sum(
                [e["removed_by_age"][name] for e in r["epochs"] if "removed_by_age" in e], 0
            )
            if np.sum(by_age) == 0:
                continue
            ax.stairs(
                by_age / np.sum(by_age), edges, label=f"{_kind(r)} seed {r['config']['seed']}"
            )
        ax.set(xscale="log", yscale="log", xlabel="age at removal [batches]",
               ylabel="share of removals",
               title=f"{label} synapses: lifetime of removed ones")  # fmt: skip
        _legend(ax, 7)
    return True


def _legend(ax, size: int) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=size)
