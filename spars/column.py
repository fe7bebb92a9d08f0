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
from jaxtyping import Array, Int

from .connectivity import Connectivity
from .kernels import columns as KC
from .kernels._backend import dispatch, get_backend
from .kernels.cpu import structure as KCPU


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

    Cost on XLA: one sort of the ``n_pre * max_row`` slots (a single int32
    key while ``n_pre * (n_post + 1)`` fits in int32, a two-operand stable
    sort beyond), and a ``[n_pre * max_row, max_row]`` compare to find each
    slot. On CUDA: a row-parallel scatter up to ``row_length`` and a
    column-parallel rank sort (``spars.kernels.columns``).
    """
    if max_col is None:
        if isinstance(conn.indices, jax.core.Tracer):
            raise ValueError("column_view under jax.jit needs an explicit (static) max_col")
        max_col = int(np.max(np.asarray(in_degree(conn)), initial=0))
    return _build(conn, max_col, get_backend())


@partial(jax.jit, static_argnums=(1, 2))
def _build(conn: Connectivity, max_col: int, backend: str) -> ColumnView:
    del backend  # part of the cache key: a change of backend traces anew
    static = {"n_post": conn.n_post, "max_col": max_col}
    parts = dispatch(
        partial(KC.build, **static),
        partial(KC.build_reference, **static),
        conn.row_length, conn.indices,
        twin_only=conn.indices.size == 0 or max_col == 0 or conn.n_post == 0,
        cpu=partial(KCPU.build_columns, **static),
    )
    return ColumnView(*parts)
