"""Figures people look at: spike rasters, weight and degree histograms, connectivity.

Needs matplotlib (``pip install spars[plots]``). Each function draws into
``ax`` (a new figure when None) and returns the axes.
"""

import numpy as np

from .column import in_degree
from .connectivity import Connectivity
from .convert import to_coo


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 3.5))[1]


def raster(spikes, dt: float = 1.0, *, ax=None, max_neurons: int | None = None, **style):
    """Spike raster of ``spikes [T, n]`` (one batch row): a dot per spike at ``t * dt`` [ms]."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"spikes must be [T, n] (index a batch row first), got {spikes.shape}")
    if max_neurons is not None:
        spikes = spikes[:, :max_neurons]
    steps, units = np.nonzero(spikes)
    ax = _axes(ax)
    ax.scatter(steps * dt, units, s=style.pop("s", 2), c=style.pop("c", "k"), marker="|", **style)
    ax.set(xlabel="time [ms]", ylabel="neuron", xlim=(0, len(spikes) * dt),
           ylim=(-0.5, spikes.shape[1] - 0.5))  # fmt: skip
    return ax


def weight_histogram(conn: Connectivity, weights, *, ax=None, bins: int = 50):
    """Histogram of the real synapses' weights (padding left out)."""
    w = to_coo(conn, weights)[2]
    ax = _axes(ax)
    ax.hist(w, bins=bins, color="C0")
    ax.set(xlabel="weight", ylabel="synapses", title=f"{w.size} synapses")
    return ax


def degree_histogram(conn: Connectivity, *, ax=None, bins: int = 30):
    """Out-degree (row lengths) and in-degree (column counts) of a projection."""
    out = np.asarray(conn.row_length)
    into = np.asarray(in_degree(conn))
    ax = _axes(ax)
    ax.hist([out, into], bins=bins, label=["out-degree", "in-degree"], color=["C0", "C1"])
    ax.set(xlabel="synapses per neuron", ylabel="neurons")
    ax.legend()
    return ax


def connectivity(conn: Connectivity, weights=None, *, ax=None, max_size: int = 1000):
    """The projection as a dense picture (pre on rows, post on columns), coloured by weight.

    Only the first ``max_size`` neurons of each side are drawn; never densifies more.
    """
    pre, post, w = to_coo(conn, weights)
    n_pre, n_post = min(conn.n_pre, max_size), min(conn.n_post, max_size)
    keep = (pre < n_pre) & (post < n_post)
    image = np.full((n_pre, n_post), np.nan)
    image[pre[keep], post[keep]] = 1.0 if w is None else w[keep]
    ax = _axes(ax)
    shown = ax.imshow(image, aspect="auto", interpolation="nearest", cmap="coolwarm")
    ax.set(xlabel="postsynaptic neuron", ylabel="presynaptic neuron")
    if w is not None:
        ax.figure.colorbar(shown, ax=ax, label="weight")
    return ax
