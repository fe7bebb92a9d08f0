"""Runs populations joined by sparse projections over time with ``lax.scan``.

A spike emitted at step ``t`` reaches its targets at step ``t + d``: ``d =
1`` (as in GeNN) unless the projection carries per-synapse ``delays``
(:mod:`spars.delays`), whose input waits in a :class:`~spars.DelayBuffer`
of the network state.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._checks import is_concrete
from ._custom_types import SynapseVar
from .connectivity import Connectivity
from .delays import DelayBuffer, delay_buffer, propagate_delayed, validate_delays
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
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: Connectivity
    weights: SynapseVar
    delays: SynapseVar | None = None
    max_delay: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if is_concrete(self.weights) and not np.all(np.isfinite(np.asarray(self.weights))):
            raise ValueError("weights must be finite: the projection's weights hold NaN or inf")
        if self.delays is None:
            if self.max_delay is not None:
                raise ValueError("max_delay is given without delays")
            return
        if not isinstance(self.max_delay, int) or self.max_delay < 1:
            raise ValueError(f"delays need max_delay, an int >= 1 [steps], got {self.max_delay!r}")
        validate_delays(self.conn, self.delays, self.max_delay)

    def buffer(self, batch_shape: tuple[int, ...]) -> DelayBuffer | None:
        """An empty :class:`~spars.DelayBuffer` for this projection (None without delays)."""
        if self.delays is None:
            return None
        return delay_buffer(self.max_delay, self.conn.n_post, batch_shape,
                            jnp.result_type(self.weights))  # fmt: skip

    def input(self, spikes, buffer: DelayBuffer | None):
        """``(postsynaptic input of the coming step, buffer)`` for the spikes just emitted."""
        if self.delays is None:
            return propagate(self.conn, self.weights, spikes), None
        if buffer is None:
            raise ValueError("a projection with delays needs its DelayBuffer in the state; "
                             "start from network.init")  # fmt: skip
        buffer = propagate_delayed(self.conn, self.weights, self.delays, spikes, buffer)
        return buffer.pop()


class NetworkState(NamedTuple):
    populations: dict[str, Any]  # each population's state
    outputs: dict[str, jax.Array]  # each population's last output (spikes)
    buffers: dict[str, DelayBuffer] = {}  # input in flight, per delayed projection


class Network(eqx.Module):
    """Named populations (neurons or sources) and the projections between them."""

    populations: dict[str, eqx.Module]
    projections: dict[str, Projection]

    def __check_init__(self):
        steps = {name: float(pop.dt) for name, pop in self.populations.items()
                 if is_concrete(getattr(pop, "dt", None))
                 and getattr(pop, "dt", None) is not None}  # fmt: skip
        if len(set(steps.values())) > 1:
            raise ValueError(f"populations must share one time step dt [ms], got {steps}")
        for name, proj in self.projections.items():
            for end, n in (("pre", proj.conn.n_pre), ("post", proj.conn.n_post)):
                pop = getattr(proj, end)
                if pop not in self.populations:
                    raise ValueError(f"projection {name!r}: unknown {end} population {pop!r}")
                if self.populations[pop].n != n:
                    raise ValueError(
                        f"projection {name!r}: {end} population {pop!r} has "
                        f"{self.populations[pop].n} neurons, connectivity expects {n}"
                    )

    def init(self, key, batch_shape: tuple[int, ...] = ()) -> NetworkState:
        """All populations at rest, no spikes in flight."""
        keys = jax.random.split(key, max(len(self.populations), 1))
        states = {
            name: pop.init(batch_shape, k)
            for k, (name, pop) in zip(keys, sorted(self.populations.items()), strict=False)
        }
        outputs = {name: jnp.zeros((*batch_shape, pop.n)) for name, pop in self.populations.items()}
        buffers = {
            name: proj.buffer(batch_shape)
            for name, proj in self.projections.items()
            if proj.delays is not None
        }
        return NetworkState(states, outputs, buffers)

    def step(self, state: NetworkState, external: dict | None = None) -> NetworkState:
        """One time step; ``external[name]`` is added to that population's drive."""
        drive, buffers = dict(external or {}), {}
        for name, proj in self.projections.items():
            current, buffer = proj.input(state.outputs[proj.pre], state.buffers.get(name))
            if buffer is not None:
                buffers[name] = buffer
            drive[proj.post] = current + drive[proj.post] if proj.post in drive else current
        states, outputs = {}, {}
        for name, pop in self.populations.items():
            outputs[name], states[name] = pop.step(state.populations[name], drive.get(name))
        return NetworkState(states, outputs, buffers)


def simulate(
    network: Network,
    state: NetworkState,
    n_steps: int,
    external: dict | None = None,
    record: Callable[[NetworkState], Any] | None = None,
) -> tuple[NetworkState, Any]:
    """Runs ``n_steps`` steps under ``lax.scan``.

    Args:
        network: the populations and projections.
        state: from ``network.init`` or a previous run.
        n_steps: number of steps of each population's ``dt``.
        external: ``{population: [n_steps, *batch, n]}`` extra drive per step.
        record: maps the state after each step to what to keep; the default
            keeps every population's output (spikes).

    Returns:
        ``(final_state, records)``, records stacked along a leading time axis.
    """
    if not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be an int >= 0 (static), got {n_steps!r}")
    record = record or (lambda s: s.outputs)
    for name, x in (external or {}).items():
        if name not in network.populations:
            raise ValueError(f"external drive for unknown population {name!r}")
        if jnp.shape(x)[0] != n_steps:
            raise ValueError(f"external[{name!r}] has {jnp.shape(x)[0]} steps, expected {n_steps}")

    def body(s, ext):
        s = network.step(s, ext)
        return s, record(s)

    return lax.scan(body, state, external or None, length=n_steps)
