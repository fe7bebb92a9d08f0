"""Figures of the delays study: accuracy per epoch and the learned delay differences."""

from pathlib import Path

import numpy as np


def plot_all(out: Path, records: list[dict], intervals) -> list[Path]:
    """``accuracy.png`` and, with a learned run, ``delays.png``; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = [_accuracy(plt, out, records)]
    learned = [r for r in records if r["variant"] == "learned"]
    if learned:
        paths.append(_delays(plt, out, learned[0], records, intervals))
    return paths


def _accuracy(plt, out, records) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    variants = list(dict.fromkeys(r["variant"] for r in records))
    for r in records:  # one colour per variant, one line per seed
        acc = [100 * e["test_accuracy"] for e in r["epochs"]]
        first = r is next(q for q in records if q["variant"] == r["variant"])
        ax.plot(range(1, len(acc) + 1), acc, color=f"C{variants.index(r['variant'])}", lw=1.2,
                alpha=0.8, label=r["variant"] if first else None)  # fmt: skip
    ax.set(xlabel="epoch", ylabel="test accuracy [%]", title="timing task (lines: seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=120)
    plt.close(fig)
    return out / "accuracy.png"


def _delays(plt, out, learned, records, intervals) -> Path:
    """Per hidden neuron ``d_A - d_B``, weighted by its weaker cue weight: fixed vs learned."""
    fixed = [r for r in records if r["variant"] == "fixed" and r["seed"] == learned["seed"]]
    panels = [(r, "fixed random delays") for r in fixed[:1]] + [(learned, "learned delays")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (rec, title) in zip(axes[0], panels, strict=True):
        diff, strength = _cue_difference(rec["params"])
        ax.hist(diff, bins=np.arange(-32.5, 33), weights=strength, color="tab:blue")
        for iv in intervals:
            ax.axvline(iv, color="tab:red", lw=0.8, ls="--")
        ax.set(xlabel="d_A - d_B [steps]  (red: class intervals)", ylabel="summed cue weight",
               title=title)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out / "delays.png", dpi=120)
    plt.close(fig)
    return out / "delays.png"


def _cue_difference(params):
    """``d_A - d_B`` per hidden neuron reached by both cues, and ``min(w_A, w_B)`` as weight."""
    a = dict(zip(params["target_a"], zip(params["delay_a"], params["weight_a"], strict=True),
                 strict=True))  # fmt: skip
    diff, strength = [], []
    for j, d_b, w_b in zip(params["target_b"], params["delay_b"], params["weight_b"], strict=True):
        if j in a:
            d_a, w_a = a[j]
            diff.append(d_a - d_b)
            strength.append(max(min(w_a, w_b), 0.0))
    return np.asarray(diff), np.asarray(strength)
