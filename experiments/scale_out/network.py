"""The study's network: Poisson input and recurrent LIF neurons, in one of two layouts.

``rows``: both projections split by presynaptic rows (partial input
reduce-scattered each step); ``blocked``: both split by postsynaptic block
(the spikes of both populations exchanged once a step). Weights are
multiples of 1/64, so every layout and device count gives the same spikes.
"""

import jax
import jax.numpy as jnp

import spars
from spars import distributed as dist
from spars import neurons

LAYOUTS = ("rows", "blocked")


def build(n: int, synapses: int, rate: float, layout: str | None, devices: int, seed: int = 0):
    """``spars.Network`` of ``n`` Poisson inputs and ``n`` LIF neurons, ``synapses`` per row.

    Args:
        n: neurons per population (a multiple of ``devices``).
        synapses: expected synapses per presynaptic neuron of each projection.
        rate: Poisson input rate [Hz].
        layout: ``"rows"``, ``"blocked"``, or None (one device, plain projections).
        devices: devices along the mesh axis (target blocks of ``blocked``).
    """
    p = min(1.0, synapses / n)
    k_in, k_rec, k_w = jax.random.split(jax.random.key(seed), 3)
    projections = {}
    for name, key, pre, scale in (("ff", k_in, "in", 0.3), ("rec", k_rec, "lif", 0.1)):
        conn = spars.fixed_probability(key, n, n, p=p, headroom=1.2)
        w = jnp.round(64 * scale * jax.random.normal(jax.random.fold_in(k_w, len(name)),
                                                     conn.indices.shape)) / 64  # fmt: skip
        w = jnp.where(conn.mask, w, 0.0)
        if layout == "blocked":
            blocks, w_blocks = dist.split_targets(conn, w, devices, headroom=1.2)
            projections[name] = dist.BlockedProjection(pre, "lif", blocks, w_blocks)
        else:
            projections[name] = spars.Projection(pre, "lif", conn, w)
    populations = {"in": neurons.PoissonSource(n, rate=rate),
                   "lif": neurons.LIF(n, tau_mem=10.0, v_thresh=1.0)}  # fmt: skip
    return spars.Network(populations, projections)
