"""The study's figure: bytes and time per step vs number of devices, per layout."""

from pathlib import Path


def plot(out: Path, rows: list[dict]) -> Path | None:
    """``scale_out.png``; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax_bytes, ax_time) = plt.subplots(1, 2, figsize=(9, 3.5))
    for k, layout in enumerate(dict.fromkeys(r["layout"] for r in rows)):
        mine = sorted((r for r in rows if r["layout"] == layout), key=lambda r: r["devices"])
        devices = [r["devices"] for r in mine]
        ax_time.plot(devices, [r["ms_per_step"] for r in mine], "o-", color=f"C{k}", label=layout)
        sent = [(d, r["bytes_per_step"]) for d, r in zip(devices, mine, strict=True) if d > 1]
        if sent:
            ax_bytes.plot(*zip(*sent, strict=True), "o-", color=f"C{k}", label=layout)
    ax_bytes.set(xscale="log", yscale="log", xlabel="devices",
                 ylabel="bytes sent per device per step")  # fmt: skip
    ax_time.set(xscale="log", xlabel="devices", ylabel="time per step [ms]",
                title="forced CPU devices (shared cores)")  # fmt: skip
    for ax in (ax_bytes, ax_time):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scale_out.png", dpi=120)
    plt.close(fig)
    return out / "scale_out.png"
