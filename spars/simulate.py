"""Runs populations joined by projections over time with ``lax.scan``.

A spike emitted at step ``t`` reaches its targets at step ``t + d``: ``d =
1`` (as in GeNN) unless the projection carries per-synapse ``delays``
(:mod:`spars.delays`). Every delayed projection into a population adds into
that population's one :class:`~spars.DelayBuffer` (as NEST keeps one ring
per neuron), which is read once per step, however many projections feed it.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._checks import is_concrete
from .delays import DelayBuffer, delay_buffer
from .projections import OneToOne, Projection
from .propagation import spike_events

AnyProjection = Projection | OneToOne


class NetworkState(NamedTuple):
    populations: dict[str, Any]  # each population's state
    outputs: dict[str, jax.Array]  # each population's last output (spikes)
    buffers: dict[str, DelayBuffer] = {}  # input in flight, per population with delayed input


class Network(eqx.Module):
    """Named populations (neurons or sources) and the projections between them."""

    populations: dict[str, eqx.Module]
    projections: dict[str, AnyProjection]

    def __check_init__(self):
        steps = {name: float(pop.dt) for name, pop in self.populations.items()
                 if is_concrete(getattr(pop, "dt", None))
                 and getattr(pop, "dt", None) is not None}  # fmt: skip
        if len(set(steps.values())) > 1:
            raise ValueError(f"populations must share one time step dt [ms], got {steps}")
        for name, proj in self.projections.items():
            self._check_ends(name, proj)

    def _check_ends(self, name: str, proj: AnyProjection) -> None:
        sizes = {}
        for end, n in zip(("pre", "post"), proj.shape, strict=True):
            pop = getattr(proj, end)
            if pop not in self.populations:
                raise ValueError(f"projection {name!r}: unknown {end} population {pop!r}")
            sizes[end] = self.populations[pop].n
            if n is not None and sizes[end] != n:
                raise ValueError(f"projection {name!r}: {end} population {pop!r} has "
                                 f"{sizes[end]} neurons, the projection expects {n}")  # fmt: skip
        if isinstance(proj, OneToOne) and sizes["pre"] != sizes["post"]:
            raise ValueError(f"one-to-one projection {name!r} joins populations of "
                             f"{sizes['pre']} and {sizes['post']} neurons")  # fmt: skip

    def rings(self) -> dict[str, tuple[int, Any]]:
        """``{population: (slots, dtype)}`` of the delay rings: one per delayed target."""
        rings = {}
        for proj in self.projections.values():
            if proj.delayed:
                slots, dtype = rings.get(proj.post, (1, proj.dtype))
                rings[proj.post] = (max(slots, proj.max_delay), jnp.result_type(dtype, proj.dtype))
        return rings

    def init(self, key, batch_shape: tuple[int, ...] = ()) -> NetworkState:
        """All populations at rest (or drawn from ``key``), no spikes in flight."""
        keys = jax.random.split(key, max(len(self.populations), 1))
        states = {
            name: pop.init(k, batch_shape)
            for k, (name, pop) in zip(keys, sorted(self.populations.items()), strict=False)
        }
        outputs = {name: jnp.zeros((*batch_shape, pop.n)) for name, pop in self.populations.items()}
        buffers = {
            post: delay_buffer(slots, self.populations[post].n, batch_shape, dtype)
            for post, (slots, dtype) in self.rings().items()
        }
        return NetworkState(states, outputs, buffers)

    def shared_events(self) -> dict[str, int | None]:
        """``{population: event capacity}`` of the populations whose spikes feed several
        sparse projections: listed once per step and shared (None: the default capacity)."""
        readers: dict[str, list] = {}
        for proj in self.projections.values():
            if isinstance(proj, Projection):
                readers.setdefault(proj.pre, []).append(proj.event_capacity)
        return {pre: max(caps) if None not in caps else None
                for pre, caps in readers.items() if len(caps) > 1}  # fmt: skip

    def step(self, state: NetworkState, external: dict | None = None) -> NetworkState:
        """One time step; ``external[name]`` is added to that population's drive."""
        drive, buffers = dict(external or {}), dict(state.buffers)
        events = {pre: spike_events(state.outputs[pre], event_capacity=capacity)
                  for pre, capacity in self.shared_events().items()
                  if jnp.size(state.outputs[pre])}  # fmt: skip
        for name, proj in self.projections.items():
            spikes = state.outputs[proj.pre]
            shared = isinstance(proj, Projection) and proj.pre in events
            listed = {"events": events[proj.pre]} if shared else {}
            if not proj.delayed:
                _add(drive, proj.post, proj.input(spikes, **listed))
            elif proj.post in buffers:
                buffers[proj.post] = proj.push(spikes, buffers[proj.post], **listed)
            else:
                raise ValueError(f"projection {name!r} has delays but the state has no delay "
                                 f"buffer for {proj.post!r}; start from network.init")  # fmt: skip
        for post, buffer in buffers.items():
            current, buffers[post] = buffer.pop()
            _add(drive, post, current)
        states, outputs = {}, {}
        for name, pop in self.populations.items():
            outputs[name], states[name] = pop.step(state.populations[name], drive.get(name))
        return NetworkState(states, outputs, buffers)


def _add(drive: dict, name: str, value) -> None:
    drive[name] = value + drive[name] if name in drive else value


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
