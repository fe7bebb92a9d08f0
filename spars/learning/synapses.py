"""Weight layouts a learning rule can train: padded-row sparse or dense.

Both offer the two operations e-prop and BPTT need: ``propagate`` (spikes in,
postsynaptic input out) and ``at_synapses`` (a postsynaptic quantity read at
every synapse, in the layout of ``weight``), so one rule serves both and the
sparse cost grows with synapses, the dense one with ``n_pre x n_post``.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..connectivity import Connectivity
from ..delays import DelayBuffer, delay_buffer, propagate_delayed, validate_delays
from ..propagation import propagate


class SparseSynapses(eqx.Module):
    """Padded-row synapses: ``weight[i, k]`` joins ``i`` to ``conn.indices[i, k]``.

    Attributes:
        conn: the connectivity.
        weight: ``[n_pre, max_row]``, 0 on padding.
        max_synapses: optional static bound on the number of real synapses.
            When set, e-prop keeps its traces in a list of that length instead
            of over every slot, so row headroom costs it nothing; more real
            synapses than this is an error.
        delay: optional ``[n_pre, max_row]`` delays [steps] in ``[1,
            max_delay]`` (int, or float to learn them; see docs/delays.md).
            None: every spike arrives at the next step.
        max_delay: the delay bound [steps] (static), needed with ``delay``.
    """

    conn: Connectivity
    weight: Float[Array, "pre max_row"]
    max_synapses: int | None = eqx.field(static=True, default=None)
    delay: Float[Array, "pre max_row"] | None = None
    max_delay: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.weight.shape != self.conn.indices.shape:
            raise ValueError(
                f"weight shape {self.weight.shape} must equal the connectivity's "
                f"[n_pre, max_row]={self.conn.indices.shape}"
            )
        if (self.delay is None) != (self.max_delay is None):
            raise ValueError("delay and max_delay go together: give both or neither")
        if self.delay is not None:
            validate_delays(self.conn, self.delay, self.max_delay)

    @property
    def shape(self) -> tuple[int, int]:
        return self.conn.shape

    def propagate(self, spikes: Float[Array, "*b pre"]) -> Float[Array, "*b post"]:
        return propagate(self.conn, self.weight, spikes)

    def buffer(self, batch: int) -> DelayBuffer | None:
        """The input in flight at the start (None without delays)."""
        if self.delay is None:
            return None
        return delay_buffer(self.max_delay, self.conn.n_post, (batch,), self.weight.dtype)

    def deliver(self, spikes, buffer: DelayBuffer | None):
        """``(input of this step, buffer)``: ``spikes`` reach it after ``delay - 1`` steps."""
        if self.delay is None:
            return self.propagate(spikes), None
        buffer = propagate_delayed(self.conn, self.weight, self.delay, spikes, buffer)
        return buffer.pop()

    def at_synapses(self, post: Float[Array, "*b post"]) -> Float[Array, "*b pre max_row"]:
        """``post[..., indices]``, 0 on padding slots."""
        return gather_post(post, self.conn.indices)


class DenseSynapses(eqx.Module):
    """All-to-all synapses ``weight[i, j]`` from ``i`` to ``j``."""

    weight: Float[Array, "pre post"]

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    def propagate(self, spikes: Float[Array, "*b pre"]) -> Float[Array, "*b post"]:
        return spikes @ self.weight

    def buffer(self, batch: int) -> None:
        del batch  # dense synapses have no delays

    def deliver(self, spikes, buffer: None):
        del buffer
        return self.propagate(spikes), None

    def at_synapses(self, post: Float[Array, "*b post"]) -> Float[Array, "*b 1 post"]:
        """``post`` broadcast over presynaptic rows."""
        return post[..., None, :]


Synapses = SparseSynapses | DenseSynapses


def gather_post(post: Float[Array, "*b post"], indices) -> Array:
    """``post[..., indices]`` with 0 for indices ``>= n_post`` (the padding sentinel)."""
    return jnp.take(post, indices, axis=-1, mode="fill", fill_value=0)
