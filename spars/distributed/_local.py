"""Per-device helpers, called inside ``shard_map`` over a mesh axis of row shards.

Device ``d`` of ``D`` along the axis holds rows ``[d * n_local, (d + 1) *
n_local)`` of every row-sharded array: global row ``i`` is local row ``i -
offset`` on the one device that owns it.
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import PartitionSpec as P


def n_shards(axis: str) -> int:
    """Devices along ``axis`` (static)."""
    return lax.axis_size(axis) if hasattr(lax, "axis_size") else lax.psum(1, axis)


def row_offset(n_local: int, axis: str):
    """int32 scalar: the global index of this device's first row."""
    return (lax.axis_index(axis) * n_local).astype(jnp.int32)


def to_local(pre, n_local: int, axis: str):
    """``(local index, owned)`` of global rows ``pre``; ``owned`` on their one device."""
    local = pre - row_offset(n_local, axis)
    return local, (local >= 0) & (local < n_local)


def local_block(x, n_local: int, axis: str, dim: int = -1):
    """This device's ``n_local`` entries of a replicated ``x`` along ``dim``."""
    dim = dim % x.ndim
    return lax.dynamic_slice_in_dim(x, row_offset(n_local, axis), n_local, axis=dim)


def from_owner(values, owned, axis: str):
    """Replicates ``values`` that only the owning device knows (zero elsewhere)."""
    if values.dtype == jnp.bool_:
        return lax.psum(jnp.where(owned, values, False).astype(jnp.int32), axis) > 0
    return lax.psum(jnp.where(owned, values, jnp.zeros_like(values)), axis)


def rows_spec(leaf, axis: str) -> P:
    """Split along the leading axis (rows); the other axes whole."""
    return P(axis, *([None] * (jnp.ndim(leaf) - 1)))


def last_spec(leaf, axis: str) -> P:
    """Split along the last axis (neurons); the other axes whole."""
    return P(*([None] * (jnp.ndim(leaf) - 1)), axis)


def synaptic_specs(tree, shape: tuple[int, int], axis: str):
    """Specs for a PyTree: per-synapse leaves (exactly ``shape``) by rows, the rest whole."""
    return jax.tree.map(lambda x: rows_spec(x, axis) if jnp.shape(x) == shape else P(), tree)


def connectivity_spec(conn, axis: str):
    """Specs of a row-sharded :class:`~spars.Connectivity`."""
    return jax.tree.map(lambda x: rows_spec(x, axis), conn)
