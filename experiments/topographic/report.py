"""Printed summary and figures of ``experiments.topographic``."""

from pathlib import Path

import numpy as np

PROJECTIONS = {"ff": "feed-forward", "lat": "lateral"}


def connection_probability(result: dict, record: dict, name: str) -> np.ndarray:
    """Fraction of the pairs at each distance that are connected (NaN where none exist)."""
    pairs = np.asarray(result["pairs_per_bin"][name])
    synapses = np.asarray(record[name]["synapses_per_bin"])
    return np.where(pairs > 0, synapses / np.maximum(pairs, 1), np.nan)


def mean_weight(record: dict, name: str) -> np.ndarray:
    """Mean weight of the synapses at each distance [uS] (NaN where none)."""
    synapses = np.asarray(record[name]["synapses_per_bin"])
    weight = np.asarray(record[name]["weight_per_bin"])
    return np.where(synapses > 0, weight / np.maximum(synapses, 1), np.nan)


def rewiring_totals(result: dict, name: str) -> dict:
    """Removed, added and failed over the whole run."""
    stats = np.sum([r["period"][name]["stats"] for r in result["records"][1:]], axis=0)
    return dict(zip(("removed", "added", "failed"), map(int, stats), strict=True))


def structural_share(result: dict) -> float:
    """Structural update plus column-view rebuild, as a fraction of the component sum."""
    b = result["breakdown_s_per_model_s"]
    return (b["structural update"] + b["column-view rebuild"]) / sum(b.values())


def print_summary(result: dict) -> None:
    p, first, last = result["params"], result["records"][0], result["records"][-1]
    print(
        f"\ns = {p['scale']}: {(16 * p['scale']) ** 2} neurons per layer, "
        f"{result['model_s']:.1f} s of model time in {result['wall_s']:.1f} s "
        f"-> real-time factor {result['real_time_factor']:.3f} (wall / model time)"
    )
    print(
        f"receptive-field offset [grid units]: {first['rf_offset'][0]:.3f} +- "
        f"{first['rf_offset'][1]:.3f} -> {last['rf_offset'][0]:.3f} +- {last['rf_offset'][1]:.3f}"
    )
    for name, label in PROJECTIONS.items():
        p0, p1 = (connection_probability(result, r, name)[:4] for r in (first, last))
        w0, w1 = (mean_weight(r, name)[:4] for r in (first, last))
        print(f"{label}: P(connected) at d = 0..3: {_fmt(p0)} -> {_fmt(p1)}")
        print(f"{label}: mean weight at d = 0..3 [uS]: {_fmt(w0)} -> {_fmt(w1)}")
        deg, expected = last[name]["in_degree"], result["expected_degree"][name]
        print(
            f"{label}: {int(first[name]['n_synapses'])} -> {int(last[name]['n_synapses'])} "
            f"synapses, in-degree {deg[0]:.2f} +- {deg[1]:.2f} (2 pi p sigma^2 = "
            f"{expected:.2f}), {rewiring_totals(result, name)}"
        )
    print("time per second of model time, each component alone:")
    total = sum(result["breakdown_s_per_model_s"].values())
    for part, seconds in result["breakdown_s_per_model_s"].items():
        print(f"  {part:22s} {seconds:9.4f} s  {100 * seconds / total:5.1f}%")
    print(
        f"  {'sum':22s} {total:9.4f} s  (fused run: {result['real_time_factor']:.4f} s); "
        f"structural share {100 * structural_share(result):.1f}%"
    )


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def plot_all(result: dict, out: Path) -> list[Path]:
    """Connectivity, receptive fields, rewiring, degrees and timing figures (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, draw, size in (
        ("connectivity", _connectivity, (10, 7)),
        ("receptive_fields", _receptive_fields, (6, 4)),
        ("rewiring", _rewiring, (10, 7)),
        ("degrees", _degrees, (10, 4)),
        ("timing", _timing, (7, 3.5)),
    ):
        fig = plt.figure(figsize=size)
        draw(fig, result)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
        paths.append(out / f"{name}.png")
    return paths


def _connectivity(fig, result):
    first, last = result["records"][0], result["records"][-1]
    for col, (name, label) in enumerate(PROJECTIONS.items()):
        prob_ax, w_ax = fig.add_subplot(2, 2, 1 + col), fig.add_subplot(2, 2, 3 + col)
        for rec, style in ((first, "--"), (last, "-")):
            tag = f"t = {rec['time_s']:.0f} s"
            prob = connection_probability(result, rec, name)
            prob_ax.plot(np.arange(prob.size), prob, style, label=tag)
            w_ax.plot(np.arange(prob.size), mean_weight(rec, name), style, label=tag)
        prob_ax.set(title=f"{label}: connection probability", xlabel="distance [grid units]")
        w_ax.set(title=f"{label}: mean weight [uS]", xlabel="distance [grid units]")
        prob_ax.set_xlim(0, 12)
        w_ax.set_xlim(0, 12)
        prob_ax.legend()


def _series(result, get):
    return np.array([r["time_s"] for r in result["records"]]), np.array(
        [get(r) for r in result["records"]]
    )


def _receptive_fields(fig, result):
    ax = fig.add_subplot(1, 1, 1)
    t, rf = _series(result, lambda r: r["rf_offset"])
    ax.plot(t, rf[:, 0], "k")
    ax.fill_between(t, rf[:, 0] - rf[:, 1], rf[:, 0] + rf[:, 1], alpha=0.3)
    ax.set(
        xlabel="model time [s]",
        ylabel="offset [grid units]",
        title="receptive-field centre offset (mean +- SD)",
    )


def _rewiring(fig, result):
    periods = result["records"][1:]
    t = np.array([r["time_s"] for r in periods])
    span = np.diff(np.concatenate([[0.0], t]))
    for col, (name, label) in enumerate(PROJECTIONS.items()):
        d_ax, t_ax = fig.add_subplot(2, 2, 1 + col), fig.add_subplot(2, 2, 3 + col)
        for kind in ("formed", "eliminated"):
            per_bin = np.sum([r["period"][name][kind] for r in periods], axis=0)
            d_ax.plot(np.arange(per_bin.size), per_bin, label=kind)
            per_period = np.array([np.sum(r["period"][name][kind]) for r in periods])
            t_ax.plot(t, per_period / span, label=kind)
        d_ax.set(title=f"{label}: events vs distance", xlabel="distance [grid units]")
        d_ax.set_xlim(0, 12)
        t_ax.set(title=f"{label}: events per second", xlabel="model time [s]")
        d_ax.legend()


def _degrees(fig, result):
    for col, (name, label) in enumerate(PROJECTIONS.items()):
        ax = fig.add_subplot(1, 2, 1 + col)
        for kind in ("in_degree", "out_degree"):
            t, deg = _series(result, lambda r, kind=kind, name=name: r[name][kind])
            ax.plot(t, deg[:, 0], label=kind.replace("_", "-"))
            ax.fill_between(t, deg[:, 0] - deg[:, 1], deg[:, 0] + deg[:, 1], alpha=0.2)
        ax.axhline(result["expected_degree"][name], color="k", ls=":", label="2 pi p sigma^2")
        ax.set(title=f"{label}: degree (mean +- SD)", xlabel="model time [s]")
        ax.legend()


def _timing(fig, result):
    ax = fig.add_subplot(1, 1, 1)
    parts = result["breakdown_s_per_model_s"]
    ax.barh(list(parts), list(parts.values()))
    ax.invert_yaxis()
    ax.set(
        xlabel="wall time per second of model time [s]",
        title=f"s = {result['params']['scale']}: components timed alone",
    )
