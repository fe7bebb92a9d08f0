"""Projections between the populations of a :class:`~spars.Network`.

- :class:`Projection`: sparse synapses (padded rows), optionally with
  per-synapse delays that deliver into the target population's delay ring.
- :class:`OneToOne`: neuron ``i`` drives neuron ``i`` with its own weight
  (an external drive, a Poisson source standing for many afferents): a
  product, no scatter, no connectivity.

A spike emitted at step ``t`` reaches its target at step ``t + d``: ``d = 1``
unless the projection carries ``delays``.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._checks import is_concrete
from ._custom_types import SynapseVar
from .column import ColumnView
from .connectivity import Connectivity
from .delays import DelayBuffer, propagate_delayed, validate_delays
from .kernels._events import Events
from .propagation import propagate


class Projection(eqx.Module):
    """Sparse synapses from population ``pre`` to population ``post``.

    Attributes:
        pre, post: population names (static).
        conn: the connectivity.
        weights: ``[n_pre, max_row]`` weights.
        delays: optional ``[n_pre, max_row]`` delays [steps] in ``[1,
            max_delay]`` (int, or float for learnable delays); None: every
            delay is 1 step.
        max_delay: the delay bound [steps] (static); needed with ``delays``.
        event_capacity: events per chunk on the paths that list spikes (XLA
            twins, CUDA kernels; static); None: :func:`spars.propagate`'s
            default. A speed knob: fit it to the spikes a step expects.
        columns: the connectivity's :class:`~spars.ColumnView`, to let CUDA
            pull when many neurons spike (see :func:`spars.propagate`); it
            must be rebuilt after every structural change.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: Connectivity
    weights: SynapseVar
    delays: SynapseVar | None = None
    max_delay: int | None = eqx.field(static=True, default=None)
    event_capacity: int | None = eqx.field(static=True, default=None)
    columns: ColumnView | None = None

    def __check_init__(self):
        if is_concrete(self.weights) and not np.all(np.isfinite(np.asarray(self.weights))):
            raise ValueError("weights must be finite: the projection's weights hold NaN or inf")
        if self.event_capacity is not None and self.event_capacity < 1:
            raise ValueError(f"event_capacity must be >= 1, got {self.event_capacity}")
        if self.delays is None:
            if self.max_delay is not None:
                raise ValueError("max_delay is given without delays")
            return
        if not isinstance(self.max_delay, int) or self.max_delay < 1:
            raise ValueError(f"delays need max_delay, an int >= 1 [steps], got {self.max_delay!r}")
        validate_delays(self.conn, self.delays, self.max_delay)

    @property
    def shape(self) -> tuple[int, int]:
        return self.conn.shape

    @property
    def dtype(self):
        return jnp.result_type(self.weights)

    @property
    def delayed(self) -> bool:
        """True if the input goes through the target's delay ring."""
        return self.delays is not None

    def input(self, spikes, events: Events | None = None):
        """The postsynaptic input of the coming step for the spikes just emitted (no delays).

        ``events``: :func:`spars.spike_events` of ``spikes``, listed once for
        every projection that reads them.
        """
        capacity = None if events is not None else self.event_capacity
        return propagate(self.conn, self.weights, spikes, event_capacity=capacity,
                         columns=self.columns, events=events)  # fmt: skip

    def push(self, spikes, buffer: DelayBuffer, events: Events | None = None) -> DelayBuffer:
        """``buffer`` (the target's ring) with the spikes just emitted added at their delays."""
        capacity = None if events is not None else self.event_capacity
        return propagate_delayed(self.conn, self.weights, self.delays, spikes, buffer,
                                 event_capacity=capacity, events=events)  # fmt: skip


class OneToOne(eqx.Module):
    """Neuron ``i`` of ``pre`` drives neuron ``i`` of ``post``: ``input = weight * spikes``.

    The next step's input, as every undelayed projection; differentiable
    w.r.t. ``weight`` and the spikes.

    Attributes:
        pre, post: population names (static), of equal size.
        weight: a scalar or ``[n]`` weight per pair.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    weight: float | Float[Array, " n"] = 1.0

    def __check_init__(self):
        if is_concrete(self.weight) and not np.all(np.isfinite(np.asarray(self.weight))):
            raise ValueError("weight must be finite: the one-to-one weight holds NaN or inf")
        if jnp.ndim(self.weight) > 1:
            raise ValueError(f"weight must be a scalar or [n], got shape {jnp.shape(self.weight)}")

    @property
    def shape(self) -> tuple[int | None, int | None]:
        n = jnp.shape(self.weight)[0] if jnp.ndim(self.weight) == 1 else None
        return n, n

    @property
    def dtype(self):
        return jnp.result_type(self.weight)

    @property
    def delayed(self) -> bool:
        return False

    def input(self, spikes):
        """``weight * spikes``."""
        return jnp.asarray(spikes) * self.weight
