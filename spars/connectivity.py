"""The padded-row sparse connectivity type (GeNN's "SPARSE" format).

A projection from ``n_pre`` to ``n_post`` neurons is stored row by row:
``indices[i, k]`` is the postsynaptic target of the k-th synapse of
presynaptic neuron ``i`` and ``row_length[i]`` says how many leading slots of
row ``i`` are real. Per-synapse variables (weights, traces, ...) are arrays of
the same ``[n_pre, max_row]`` shape kept beside the connectivity.

Padding slots hold the sentinel index ``n_post`` (one past the last neuron)
and zero in every per-synapse variable. Scatters with out-of-range indices are
dropped and gathers use ``fill_value=0``, so padding costs no masks.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._checks import integer
from ._custom_types import Indices, RowLength, SlotMask


def _as_int32(x) -> Array:
    return jnp.asarray(integer("indices and row_length", x), dtype=jnp.int32)


class Connectivity(eqx.Module):
    """Padded-row connectivity of one projection.

    Attributes:
        indices: ``int32[n_pre, max_row]`` postsynaptic targets; padding slots
            hold ``n_post``.
        row_length: ``int32[n_pre]`` number of real (leading) slots per row.
        n_post: number of postsynaptic neurons (static).
    """

    indices: Indices = eqx.field(converter=_as_int32)
    row_length: RowLength = eqx.field(converter=_as_int32)
    n_post: int = eqx.field(static=True)

    def __check_init__(self):
        if self.indices.ndim != 2:
            raise ValueError(
                f"indices must be 2-D [n_pre, max_row], got shape {self.indices.shape}"
            )
        if self.row_length.shape != self.indices.shape[:1]:
            raise ValueError(
                f"row_length must have shape [n_pre]={self.indices.shape[:1]}, "
                f"got {self.row_length.shape}"
            )
        if not isinstance(self.n_post, int) or self.n_post < 0:
            raise ValueError(f"n_post must be a non-negative int, got {self.n_post!r}")

    @property
    def n_pre(self) -> int:
        """Number of presynaptic neurons."""
        return self.indices.shape[0]

    @property
    def max_row(self) -> int:
        """Row capacity (slots per row, real plus padding)."""
        return self.indices.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """The dense shape ``(n_pre, n_post)`` this projection stands for."""
        return (self.n_pre, self.n_post)

    @property
    def mask(self) -> SlotMask:
        """``bool[n_pre, max_row]``: True on real slots."""
        if not isinstance(self.row_length, jax.core.Tracer):  # eager: no compilation per shape
            length = np.asarray(self.row_length)
            return jnp.asarray(np.arange(self.max_row)[None, :] < length[:, None])
        slots = jnp.arange(self.max_row, dtype=jnp.int32)
        return slots[None, :] < self.row_length[:, None]

    @property
    def n_synapses(self) -> Array:
        """Total number of real synapses (a scalar array)."""
        return jnp.sum(self.row_length)

    @property
    def padding_index(self) -> int:
        """The sentinel index held by padding slots (``n_post``)."""
        return self.n_post


def empty(n_pre: int, n_post: int, max_row: int) -> Connectivity:
    """A projection with no synapses and capacity ``max_row`` per row."""
    return Connectivity(
        indices=jnp.full((n_pre, max_row), n_post, jnp.int32),
        row_length=jnp.zeros((n_pre,), jnp.int32),
        n_post=n_post,
    )


def capacity(needed: int, headroom: float = 1.0, max_row: int | None = None) -> int:
    """Row capacity for rows of up to ``needed`` synapses.

    Args:
        needed: the longest row that must fit.
        headroom: capacity factor (>= 1) leaving free slots for rewiring.
        max_row: an explicit capacity; overrides ``headroom``.

    Returns:
        ``max_row`` if given, else ``ceil(headroom * needed)``.

    Raises:
        ValueError: if the capacity is smaller than ``needed``.
    """
    if headroom < 1.0:
        raise ValueError(f"headroom must be >= 1, got {headroom}")
    if max_row is None:
        return math.ceil(needed * headroom - 1e-9)
    if max_row < needed:
        raise ValueError(
            f"max_row={max_row} is smaller than the longest row ({needed} synapses); "
            "raise max_row or leave it None to size rows from the data"
        )
    return int(max_row)
