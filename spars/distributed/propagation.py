"""Propagation through a projection whose rows are split over a mesh axis.

Device ``d`` holds rows ``[d * n_local, (d + 1) * n_local)`` (the outgoing
synapses of those presynaptic neurons) and their weights, propagates the
spikes of those rows with :func:`spars.propagate`, and the partial inputs
``[..., n_post]`` of all devices are summed: ``psum`` (every device gets the
whole input) or ``psum_scatter`` (device ``d`` gets postsynaptic neurons
``[d * m, (d + 1) * m)``, ``m = n_post / D``, when the neurons are split too).
The custom VJP runs per device; the collectives' transposes carry the
cotangent back (``psum`` -> the whole cotangent on every device,
``psum_scatter`` -> an all-gather), so the gradients are the one-device ones.
"""

import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from .._custom_types import PostInput, Spikes, SynapseVar
from ..connectivity import Connectivity
from ..propagation import propagate as propagate_local
from ._local import connectivity_spec, n_shards, rows_spec
from ._mesh import check_divides, shard_map


def reduce_input(partial: PostInput, axis: str, scatter: bool) -> PostInput:
    """Sums per-device partial input ``[..., n_post]`` over ``axis``.

    Args:
        partial: this device's ``[..., n_post]`` contribution.
        axis: the mesh axis of the row shards.
        scatter: False: every device gets the sum ``[..., n_post]``
            (all-reduce); True: device ``d`` gets its block ``[..., n_post / D]``
            (reduce-scatter, half the bytes of an all-reduce).
    """
    if not scatter:
        return lax.psum(partial, axis)
    devices = n_shards(axis)
    if partial.shape[-1] % devices:
        raise ValueError(f"n_post ({partial.shape[-1]}) must be a multiple of the {devices} "
                         f"devices along mesh axis {axis!r} to scatter the input")  # fmt: skip
    return lax.psum_scatter(partial, axis, scatter_dimension=partial.ndim - 1, tiled=True)


def propagate_rows(
    conn: Connectivity,
    weights: SynapseVar,
    spikes: Spikes,
    *,
    axis: str,
    scatter: bool = False,
    **options,
) -> PostInput:
    """Per device, inside ``shard_map``: this device's rows, summed over ``axis``.

    Args:
        conn: this device's rows ``[n_local, max_row]`` (targets are global ids).
        weights: ``[n_local, max_row]`` their weights.
        spikes: ``[..., n_local]`` the spikes of these rows' presynaptic neurons.
        axis: the mesh axis the rows are split over.
        scatter: see :func:`reduce_input`.
        **options: :func:`spars.propagate`'s keyword arguments.

    Returns:
        ``[..., n_post]`` input, or ``[..., n_post / D]`` with ``scatter``.
    """
    return reduce_input(propagate_local(conn, weights, spikes, **options), axis, scatter)


def propagate(
    conn: Connectivity,
    weights: SynapseVar,
    spikes: Spikes,
    *,
    mesh: Mesh,
    axis: str,
    scatter: bool = False,
    batch_axis: str | None = None,
) -> PostInput:
    """:func:`spars.propagate` with the rows split over ``mesh`` axis ``axis``.

    Arrays are global (one ``jax.Array`` each, wherever they are placed);
    ``shard_map`` hands each device its rows, the matching block of
    ``spikes`` and, with ``batch_axis``, its part of the batch.

    Args:
        conn: the projection (``n_pre`` a multiple of the devices along ``axis``).
        weights: ``[n_pre, max_row]`` weights.
        spikes: ``[..., n_pre]`` spikes.
        mesh: the device mesh.
        axis: the mesh axis of the row shards.
        scatter: return the input split by postsynaptic neuron over ``axis``
            (reduce-scatter) instead of whole on every device (all-reduce).
        batch_axis: a mesh axis that splits the leading batch axis of
            ``spikes`` (data parallelism), or None.

    Returns:
        ``[..., n_post]`` input, equal to :func:`spars.propagate`'s up to the
        order of the float sums; differentiable w.r.t. ``weights`` and ``spikes``.
    """
    check_divides(conn.n_pre, mesh, axis, "n_pre (the rows of the projection)")
    if scatter:
        check_divides(conn.n_post, mesh, axis, "n_post (the postsynaptic neurons)")
    spikes = jnp.asarray(spikes)
    if spikes.ndim < 1 or spikes.shape[-1] != conn.n_pre:
        raise ValueError(f"spikes shape {spikes.shape} must end in n_pre={conn.n_pre}")
    lead = [None] * (spikes.ndim - 1)
    if batch_axis is not None:
        if not lead:
            raise ValueError("batch_axis needs spikes with a leading batch axis")
        check_divides(spikes.shape[0], mesh, batch_axis, "the batch")
        lead[0] = batch_axis
    in_specs = (connectivity_spec(conn, axis), rows_spec(weights, axis), P(*lead, axis))
    out_spec = P(*lead, axis if scatter else None)

    def body(conn, weights, spikes):
        return propagate_rows(conn, weights, spikes, axis=axis, scatter=scatter)

    return shard_map(body, mesh, in_specs, out_spec)(conn, weights, spikes)
