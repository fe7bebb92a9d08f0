"""Map-refinement metrics of the topographic network, computed on device.

Distances are periodic, in grid units, between a synapse's presynaptic and
postsynaptic positions (both layers share the grid). Histograms use bins of
one grid unit.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import spars
from experiments.topographic import model
from spars._grid import periodic, squared_distance


def n_bins(p: model.MapParams) -> int:
    """Distance bins of width 1 covering the largest periodic distance, side / sqrt(2)."""
    return int(np.ceil(p.side / np.sqrt(2.0))) + 1


def pairs_per_bin(p: model.MapParams, autapses: bool) -> np.ndarray:
    """``[n_bins]`` number of (pre, post) pairs at each distance."""
    offsets = np.arange(p.side)
    d = np.hypot(*np.meshgrid(periodic(offsets, p.side), periodic(offsets, p.side)))
    counts = np.bincount(np.floor(d).astype(int).ravel(), minlength=n_bins(p))
    counts = counts.astype(float) * p.n
    if not autapses:
        counts[0] -= p.n
    return counts


def _distance_bin(p, pre, post):
    d = jnp.sqrt(squared_distance(pre, post, (p.side, p.side), (p.side, p.side)))
    return jnp.minimum(jnp.floor(d).astype(jnp.int32), n_bins(p) - 1)


def _histogram(p, bins, weights):
    return jnp.zeros((n_bins(p),)).at[bins].add(weights)


def _projection_metrics(p: model.MapParams, proj: model.Plastic) -> dict:
    conn = proj.conn
    pre = jnp.broadcast_to(jnp.arange(conn.n_pre)[:, None], conn.indices.shape)
    bins = _distance_bin(p, pre, jnp.minimum(conn.indices, conn.n_post - 1))
    real = conn.mask.astype(jnp.float32)
    in_deg = spars.in_degree(conn).astype(jnp.float32)
    out_deg = conn.row_length.astype(jnp.float32)
    return {
        "synapses_per_bin": _histogram(p, bins, real),
        "weight_per_bin": _histogram(p, bins, proj.weight * real),
        "n_synapses": jnp.sum(real),
        "mean_weight": jnp.sum(proj.weight) / jnp.maximum(jnp.sum(real), 1.0),
        "in_degree": jnp.stack([jnp.mean(in_deg), jnp.std(in_deg)]),
        "out_degree": jnp.stack([jnp.mean(out_deg), jnp.std(out_deg)]),
    }


def receptive_field_offsets(p: model.MapParams, ff: model.Plastic) -> jax.Array:
    """``[n]`` distance from each target neuron to the weight-weighted centroid of its
    feed-forward inputs [grid units]; NaN for a neuron with no input weight."""
    conn = ff.conn
    pre = jnp.arange(conn.n_pre)[:, None]
    post = jnp.minimum(conn.indices, conn.n_post - 1)
    dy = periodic((pre // p.side - post // p.side).astype(jnp.float32), p.side)
    dx = periodic((pre % p.side - post % p.side).astype(jnp.float32), p.side)
    w = jnp.where(conn.mask, ff.weight, 0.0)
    sums = jnp.zeros((conn.n_post + 1, 3)).at[conn.indices].add(jnp.stack([w * dy, w * dx, w], -1))
    total = sums[: conn.n_post, 2]
    centre = sums[: conn.n_post, :2] / total[:, None]
    return jnp.where(total > 0, jnp.hypot(centre[:, 0], centre[:, 1]), jnp.nan)


@partial(jax.jit, static_argnums=0)
def snapshot(p: model.MapParams, state: model.MapState) -> dict:
    """All connectivity metrics of ``state`` (arrays; see :func:`to_lists`)."""
    offsets = receptive_field_offsets(p, state.ff)
    return {
        "ff": _projection_metrics(p, state.ff),
        "lat": _projection_metrics(p, state.lat),
        "rf_offset": jnp.stack([jnp.nanmean(offsets), jnp.nanstd(offsets)]),
    }


def event_histograms(p: model.MapParams, events) -> dict:
    """Formations and eliminations of one rewiring, per distance bin."""
    bins = _distance_bin(p, events.pre, events.post)
    return {
        "formed": _histogram(p, bins, events.formed.astype(jnp.float32)),
        "eliminated": _histogram(p, bins, events.eliminated.astype(jnp.float32)),
    }


def to_lists(tree):
    """Arrays as (nested) Python lists/floats, for JSON."""
    return jax.tree.map(lambda x: np.asarray(x).tolist(), tree)
