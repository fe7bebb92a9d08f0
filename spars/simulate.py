"""Runs populations joined by sparse projections over time with ``lax.scan``.

A spike emitted at step ``t`` reaches its targets at step ``t + 1`` (one
step of synaptic delay, as in GeNN).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import SynapseVar
from .connectivity import Connectivity
from .propagation import propagate


class Projection(eqx.Module):
    """Sparse synapses from population ``pre`` to population ``post``."""

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: Connectivity
    weights: SynapseVar


class NetworkState(NamedTuple):
    populations: dict[str, Any]  # each population's state
    outputs: dict[str, jax.Array]  # each population's last output (spikes)


class Network(eqx.Module):
    """Named populations (neurons or sources) and the projections between them."""

    populations: dict[str, eqx.Module]
    projections: dict[str, Projection]

    def __check_init__(self):
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
        return NetworkState(states, outputs)

    def step(self, state: NetworkState, external: dict | None = None) -> NetworkState:
        """One time step; ``external[name]`` is added to that population's drive."""
        drive = dict(external or {})
        for proj in self.projections.values():
            current = propagate(proj.conn, proj.weights, state.outputs[proj.pre])
            drive[proj.post] = current + drive[proj.post] if proj.post in drive else current
        states, outputs = {}, {}
        for name, pop in self.populations.items():
            outputs[name], states[name] = pop.step(state.populations[name], drive.get(name))
        return NetworkState(states, outputs)


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
