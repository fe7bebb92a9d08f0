"""Projections split by postsynaptic block: every device holds the synapses onto its neurons.

For ``D`` devices and ``n_post = D * m`` postsynaptic neurons, block ``b``
keeps, for every presynaptic row, the synapses onto neurons ``[b * m, (b +
1) * m)``, as padded rows of their own (local target ids ``j - b * m``,
padding ``m``). A device that holds block ``b`` computes the whole input of
its neurons from the whole spike vector, which the devices exchange once
per step (:func:`spars.distributed.gather_spikes`): the layout of NEST and of
GeNN's multi-GPU code, where synapses live with their target. Rows of a
block are independent and in the original order, so each block is an
ordinary :class:`~spars.Connectivity` on its device.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._checks import is_concrete
from .._custom_types import PostInput, Spikes
from ..connectivity import Connectivity, capacity
from ..propagation import propagate
from ..structure import is_synaptic


class TargetBlocks(eqx.Module):
    """A projection's synapses in ``n_blocks`` postsynaptic blocks of padded rows.

    Attributes:
        indices: ``int32[n_blocks, n_pre, max_row]`` local targets (``j - b * m``);
            padding holds ``m = n_post / n_blocks``.
        row_length: ``int32[n_blocks, n_pre]`` real slots of each block's rows.
        n_post: number of postsynaptic neurons, all blocks together (static).
    """

    indices: Int[Array, "blocks pre max_row"]
    row_length: Int[Array, "blocks pre"]
    n_post: int = eqx.field(static=True)

    def __check_init__(self):
        if jnp.ndim(self.indices) != 3 or jnp.shape(self.row_length) != jnp.shape(self.indices)[:2]:
            raise ValueError(f"indices must be [n_blocks, n_pre, max_row] and row_length "
                             f"[n_blocks, n_pre], got {jnp.shape(self.indices)} and "
                             f"{jnp.shape(self.row_length)}")  # fmt: skip
        if self.n_post % self.n_blocks:
            raise ValueError(f"n_post ({self.n_post}) must be a multiple of n_blocks "
                             f"({self.n_blocks})")  # fmt: skip

    @property
    def n_blocks(self) -> int:
        return self.indices.shape[0]

    @property
    def n_pre(self) -> int:
        return self.indices.shape[1]

    @property
    def max_row(self) -> int:
        return self.indices.shape[2]

    @property
    def block_size(self) -> int:
        """Postsynaptic neurons per block, ``m``."""
        return self.n_post // self.n_blocks

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_pre, self.n_post)

    def block(self, b: int = 0) -> Connectivity:
        """Block ``b`` as a :class:`~spars.Connectivity` onto its ``m`` neurons."""
        return Connectivity(self.indices[b], self.row_length[b], self.block_size)


def split_targets(conn: Connectivity, variables=None, n_blocks: int = 1, *,
                  headroom: float = 1.0, max_row: int | None = None):  # fmt: skip
    """Splits a projection into ``n_blocks`` postsynaptic blocks (eager, on the host).

    Args:
        conn: the projection (``n_post`` a multiple of ``n_blocks``).
        variables: per-synapse variables (leaves ``[n_pre, max_row]`` are
            split with their synapses, other leaves returned as they are).
        n_blocks: the number of blocks (the devices along the mesh axis).
        headroom, max_row: the blocks' row capacity, as in :func:`spars.capacity`
            over the longest row of any block.

    Returns:
        ``(TargetBlocks, variables)``, per-synapse leaves now ``[n_blocks, n_pre, max_row]``.
    """
    if n_blocks < 1 or conn.n_post % n_blocks:
        raise ValueError(f"n_post ({conn.n_post}) must be a multiple of n_blocks ({n_blocks}); "
                         f"use a number of devices that divides it")  # fmt: skip
    m = conn.n_post // n_blocks
    indices, mask = np.asarray(conn.indices), np.asarray(conn.mask)
    block = np.where(mask, indices // max(m, 1), n_blocks)
    slot = {b: np.cumsum(block == b, axis=1) - 1 for b in range(n_blocks)}
    counts = np.stack([np.sum(block == b, axis=1) for b in range(n_blocks)])
    width = capacity(int(np.max(counts, initial=0)), headroom, max_row)

    def split(leaf, fill, local):
        out = np.full((n_blocks, conn.n_pre, width), fill, np.asarray(leaf).dtype)
        for b in range(n_blocks):
            rows, cols = np.nonzero(block == b)
            out[b, rows, slot[b][rows, cols]] = local(np.asarray(leaf)[rows, cols], b)
        return jnp.asarray(out)

    local = split(indices, m, lambda j, b: j - b * m).astype(jnp.int32)
    blocks = TargetBlocks(local, jnp.asarray(counts, jnp.int32), conn.n_post)
    shape = conn.indices.shape
    moved = _map(variables, lambda v: split(v, 0, lambda x, b: x) if is_synaptic(v, shape) else v)
    return blocks, moved


def merge_targets(blocks: TargetBlocks, variables=None, *, max_row: int | None = None):
    """The projection of :func:`split_targets` in one piece again (eager, on the host).

    Each row lists block 0's synapses first, then block 1's, and so on.

    Returns:
        ``(Connectivity, variables)`` with global target ids.
    """
    lengths = np.asarray(blocks.row_length)
    total = lengths.sum(axis=0)
    width = capacity(int(np.max(total, initial=0)), 1.0, max_row)
    n_pre, m = blocks.n_pre, blocks.block_size
    starts = np.cumsum(lengths, axis=0) - lengths  # where each block's part of a row begins
    slots = np.arange(blocks.max_row)[None, :]

    def merge(leaf, fill, globalise):
        leaf = np.asarray(leaf)
        out = np.full((n_pre, width), fill, leaf.dtype)
        for b in range(blocks.n_blocks):
            rows, cols = np.nonzero(slots < lengths[b][:, None])
            out[rows, starts[b][rows] + cols] = globalise(leaf[b][rows, cols], b)
        return jnp.asarray(out)

    conn = Connectivity(merge(blocks.indices, blocks.n_post, lambda j, b: j + b * m),
                        jnp.asarray(total, jnp.int32), blocks.n_post)  # fmt: skip
    shape = blocks.indices.shape
    moved = _map(variables, lambda v: merge(v, 0, lambda x, b: x) if jnp.shape(v) == shape else v)
    return conn, moved


def _map(tree, f):
    return None if tree is None else jax.tree.map(f, tree)


class BlockedProjection(eqx.Module):
    """A :class:`~spars.Projection` whose synapses are split by postsynaptic block.

    On one device it is an ordinary projection (each block propagated and
    the inputs joined); :func:`spars.distributed.simulate` gives each device
    its block and the whole spike vector.

    Attributes:
        pre, post: population names (static).
        blocks: the :class:`TargetBlocks`.
        weights: ``[n_blocks, n_pre, max_row]`` weights.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    blocks: TargetBlocks
    weights: Float[Array, "blocks pre max_row"]

    def __check_init__(self):
        if jnp.shape(self.weights) != jnp.shape(self.blocks.indices):
            raise ValueError(f"weights shape {jnp.shape(self.weights)} must equal the blocks' "
                             f"{jnp.shape(self.blocks.indices)}")  # fmt: skip
        if is_concrete(self.weights) and not np.all(np.isfinite(np.asarray(self.weights))):
            raise ValueError("weights must be finite: the projection's weights hold NaN or inf")

    @property
    def conn(self) -> TargetBlocks:
        """The blocks (``n_pre``, ``n_post``)."""
        return self.blocks

    @property
    def shape(self) -> tuple[int, int]:
        return self.blocks.shape

    @property
    def dtype(self):
        return jnp.result_type(self.weights)

    @property
    def delayed(self) -> bool:
        return False  # no per-synapse delays in this layout

    def input(self, spikes: Spikes) -> PostInput:
        """The input of the coming step ``[..., n_post]`` on one device."""
        parts = [propagate(self.blocks.block(b), self.weights[b], spikes)
                 for b in range(self.blocks.n_blocks)]  # fmt: skip
        return jnp.concatenate(parts, axis=-1)
