"""The column view (GeNN's "remap"): for each postsynaptic neuron, its synapses.

The row view is the source of truth; a column view is derived from it after
any structural change, for postsynaptic-parallel work (updates on a
postsynaptic spike, pull-style propagation).
"""

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Int

from .connectivity import Connectivity

_INT32_MAX = 2**31 - 1


class ColumnView(eqx.Module):
    """The synapses of each postsynaptic neuron, by ascending presynaptic index.

    Attributes:
        pre: ``int32[n_post, max_col]`` presynaptic neuron of each entry;
            padding holds ``n_pre``.
        slot: ``int32[n_post, max_col]`` slot of the synapse in its row;
            padding holds ``max_row``.
        col_length: ``int32[n_post]`` entries per column (at most ``max_col``).
        overflow: int32 scalar, synapses that did not fit in ``max_col``.
    """

    pre: Int[Array, "post max_col"]
    slot: Int[Array, "post max_col"]
    col_length: Int[Array, " post"]
    overflow: Int[Array, ""]

    @property
    def mask(self):
        """``bool[n_post, max_col]``: True on real entries."""
        cols = jnp.arange(self.pre.shape[1], dtype=jnp.int32)
        return cols[None, :] < self.col_length[:, None]

    def gather(self, variable: Array) -> Array:
        """A per-synapse ``[n_pre, max_row]`` variable seen by column, zero on padding."""
        if variable.size == 0:
            return jnp.zeros(self.pre.shape, variable.dtype)
        return variable.at[self.pre, self.slot].get(mode="fill", fill_value=0)


def in_degree(conn: Connectivity) -> Int[Array, " post"]:
    """``int32[n_post]`` number of synapses onto each postsynaptic neuron."""
    counts = jnp.zeros((conn.n_post + 1,), jnp.int32)
    return counts.at[conn.indices.reshape(-1)].add(1, mode="drop")[: conn.n_post]


def column_view(conn: Connectivity, max_col: int | None = None) -> ColumnView:
    """Builds the column view of ``conn``.

    Args:
        conn: the connectivity.
        max_col: column capacity; default the largest in-degree (needs a
            concrete ``conn``, so pass it under ``jax.jit``).

    Returns:
        The :class:`ColumnView`; synapses beyond ``max_col`` in a column are
        counted in ``overflow``, never written.

    Cost: one sort of the ``n_pre * max_row`` slots (a single int32 key while
    ``n_pre * (n_post + 1)`` fits in int32, a two-operand stable sort beyond),
    and a ``[n_pre * max_row, max_row]`` compare to find each slot.
    """
    if max_col is None:
        if isinstance(conn.indices, jax.core.Tracer):
            raise ValueError("column_view under jax.jit needs an explicit (static) max_col")
        max_col = int(np.max(np.asarray(in_degree(conn)), initial=0))
    return _build(conn, max_col)


@partial(jax.jit, static_argnums=1)
def _build(conn: Connectivity, max_col: int) -> ColumnView:
    degree = in_degree(conn)
    post, pre, slot = _sorted_by_column(conn)
    starts = jnp.cumsum(degree) - degree
    position = jnp.arange(post.shape[0], dtype=jnp.int32)
    rank = position - starts.at[post].get(mode="fill", fill_value=0)
    row = jnp.where(post < conn.n_post, post, conn.n_post)
    shape = (conn.n_post, max_col)
    return ColumnView(
        pre=jnp.full(shape, conn.n_pre, jnp.int32).at[row, rank].set(pre, mode="drop"),
        slot=jnp.full(shape, conn.max_row, jnp.int32).at[row, rank].set(slot, mode="drop"),
        col_length=jnp.minimum(degree, max_col),
        overflow=jnp.sum(jnp.maximum(degree - max_col, 0)),
    )


def _sorted_by_column(conn: Connectivity):
    """Flat ``(post, pre, slot)`` of all slots sorted by post then pre; padding last."""
    n_pre, max_row = conn.indices.shape
    post = conn.indices.reshape(-1)
    flat = jnp.arange(post.shape[0], dtype=jnp.int32)
    if post.shape[0] == 0:
        return post, flat, flat
    if n_pre * (conn.n_post + 1) <= _INT32_MAX:
        key = lax.sort(post * n_pre + flat // max(max_row, 1))
        post, pre = key // max(n_pre, 1), key % max(n_pre, 1)
        rows = conn.indices.at[pre].get(mode="fill", fill_value=-1)
        slot = jnp.argmax(rows == post[:, None], axis=1).astype(jnp.int32)
        return post, pre, slot
    post, flat = lax.sort((post, flat), num_keys=1, is_stable=True)
    return post, flat // max_row, flat % max_row
