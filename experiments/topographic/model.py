"""The topographic-map network (Bamford, Murray & Willshaw 2010, as in GeNN's study).

Two (16 s)^2 grids on a torus. The input layer fires Poisson spikes at
``base_rate`` plus a Gaussian bump that jumps to a random position every
``bump_period``; the target layer is conductance-based LIF. Feed-forward
(input -> target) and lateral (target -> target) synapses learn by STDP and
are rewired every ``rewire_every`` by topographic formation/elimination.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

import spars
from spars import rules
from spars._grid import periodic
from spars.learning import STDP, STDPTraces, stdp_update, stdp_update_columns
from spars.neurons import ConductanceLIF, ConductanceLIFState


@dataclass(frozen=True)
class MapParams:
    """Static settings (hashable, so jit treats them as constants)."""

    scale: int = 1
    dt: float = 0.1  # [ms]
    g_max: float = 0.2  # [uS]
    base_rate: float = 5.0  # [Hz]
    bump_rate: float = 152.8  # peak extra rate of the bump [Hz]
    bump_sigma: float = 2.0  # [grid units]
    bump_period: float = 20.0  # [ms]
    p_ff: float = 0.16
    sigma_ff: float = 2.5
    p_lat: float = 1.0
    sigma_lat: float = 1.0
    rewire_every: float = 1.0  # [ms]
    candidates_per_scale2: int = 10
    p_elim_dep: float = 1.0
    p_elim_pot: float = 0.0068
    max_in_degree: int | None = None
    headroom: float = 2.0
    stdp: str = "rows"  # "rows" (no column view) or "columns" (rebuilt after each rewiring)

    @property
    def side(self) -> int:
        return 16 * self.scale

    @property
    def n(self) -> int:
        return self.side**2

    @property
    def steps_per_rewire(self) -> int:
        return round(self.rewire_every / self.dt)

    @property
    def steps_per_bump(self) -> int:
        return round(self.bump_period / self.dt)

    @property
    def n_candidates(self) -> int:
        return self.candidates_per_scale2 * self.scale**2

    def kernel(self, which: str) -> tuple[float, float]:
        """``(p_peak, sigma)`` of projection ``"ff"`` or ``"lat"``."""
        return (self.p_ff, self.sigma_ff) if which == "ff" else (self.p_lat, self.sigma_lat)

    def expected_degree(self, which: str) -> float:
        """Mean in/out-degree of the initial Gaussian connectivity, 2 pi p sigma^2."""
        p, sigma = self.kernel(which)
        return 2 * math.pi * p * sigma**2


class Plastic(NamedTuple):
    """A plastic projection: connectivity, weights [uS], STDP traces, column view or None."""

    conn: spars.Connectivity
    weight: jax.Array
    traces: STDPTraces
    columns: spars.ColumnView | None


class MapState(NamedTuple):
    ff: Plastic
    lat: Plastic
    target: ConductanceLIFState
    spikes: jax.Array  # target spikes of the last step, [n]
    spike_events: spars.Events  # the same, listed (lateral propagation reuses them)
    bump: jax.Array  # bump centre (y, x) [grid units]
    key: jax.Array
    step: jax.Array  # int32 steps simulated


def neuron_model(p: MapParams) -> ConductanceLIF:
    return ConductanceLIF(p.n, dt=p.dt)


def stdp_rule(p: MapParams) -> STDP:
    return STDP(g_max=p.g_max, dt=p.dt)


def max_col(p: MapParams) -> int:
    """Column capacity for ``--stdp columns``: the in-degree cap, or 4x the mean degree + 16."""
    if p.max_in_degree is not None:
        return p.max_in_degree
    return int(4 * max(p.expected_degree("ff"), p.expected_degree("lat"))) + 16


def init_state(key, p: MapParams) -> MapState:
    """Gaussian initial connectivity at weight ``g_max``, neurons at rest, bump at random."""
    k_ff, k_lat, k_bump, k_run = jax.random.split(key, 4)
    shape = (p.side, p.side)
    ff = spars.gaussian_grid(k_ff, shape, shape, *p.kernel("ff"), headroom=p.headroom)
    lat = spars.gaussian_grid(
        k_lat, shape, shape, *p.kernel("lat"), headroom=p.headroom, autapses=False
    )
    return MapState(
        ff=_plastic(p, ff),
        lat=_plastic(p, lat),
        target=neuron_model(p).init(),
        spikes=jnp.zeros((p.n,)),
        spike_events=spars.spike_events(jnp.zeros((p.n,))),
        bump=jax.random.uniform(k_bump, (2,), maxval=p.side),
        key=k_run,
        step=jnp.int32(0),
    )


def _plastic(p: MapParams, conn: spars.Connectivity) -> Plastic:
    weight = jnp.where(conn.mask, jnp.float32(p.g_max), jnp.float32(0.0))
    columns = spars.column_view(conn, max_col(p)) if p.stdp == "columns" else None
    return Plastic(conn, weight, stdp_rule(p).init(conn.n_pre, conn.n_post), columns)


def input_rates(p: MapParams, bump) -> jax.Array:
    """``[n]`` input rates [Hz]: ``base_rate`` plus the Gaussian bump around ``bump``."""
    ids = jnp.arange(p.n)
    dy = periodic((ids // p.side) - bump[0], p.side)
    dx = periodic((ids % p.side) - bump[1], p.side)
    return p.base_rate + p.bump_rate * jnp.exp(-(dy**2 + dx**2) / (2 * p.bump_sigma**2))


def input_spikes(p: MapParams, key, bump, step):
    """Moves the bump every ``bump_period``; returns ``(spikes [n], bump)``."""
    k_bump, k_spike = jax.random.split(key)
    jump = step % p.steps_per_bump == 0
    bump = jnp.where(jump, jax.random.uniform(k_bump, (2,), maxval=p.side), bump)
    prob = input_rates(p, bump) * (p.dt * 1e-3)
    return (jax.random.uniform(k_spike, (p.n,)) < prob).astype(jnp.float32), bump


def learn(p: MapParams, proj: Plastic, pre_spikes, post_spikes, pre_events=None) -> Plastic:
    """One STDP step on ``proj``, by the formulation ``p.stdp`` selects."""
    rule = stdp_rule(p)
    spikes = (proj.weight, proj.traces, pre_spikes, post_spikes)
    if p.stdp == "columns":
        w, traces = stdp_update_columns(
            rule, proj.conn, proj.columns, *spikes, pre_events=pre_events
        )
    else:
        w, traces = stdp_update(rule, proj.conn, *spikes, pre_events=pre_events)
    return proj._replace(weight=w, traces=traces)


def sim_step(p: MapParams, state: MapState):
    """One time step: input, propagation (lateral one step delayed), neurons, STDP.

    Returns:
        ``(state, (input spikes [n], target spikes [n]))``.
    """
    key, k_in = jax.random.split(state.key)
    x, bump = input_spikes(p, k_in, state.bump, state.step)
    x_events = spars.spike_events(x)  # each spike vector is listed once per step
    g_in = spars.propagate(state.ff.conn, state.ff.weight, x, events=x_events)
    lat_in = spars.propagate(state.lat.conn, state.lat.weight, state.spikes,
                             events=state.spike_events)
    z, target = neuron_model(p).step(state.target, g_in + lat_in)
    z_events = spars.spike_events(z)
    ff = learn(p, state.ff, x, z, x_events)
    lat = learn(p, state.lat, z, z, z_events)
    new = MapState(ff, lat, target, z, z_events, bump, key, state.step + 1)
    return new, (x, z)


def rewire(p: MapParams, key, proj: Plastic, which: str):
    """Topographic formation/elimination on ``proj``; rebuilds its column view if it has one.

    Returns:
        ``(proj, stats, events)`` as :func:`spars.rules.topographic` with events.
    """
    p_form, sigma = p.kernel(which)
    conn, weight, stats, events = rules.topographic(
        key,
        proj.conn,
        proj.weight,
        pre_shape=(p.side, p.side),
        post_shape=(p.side, p.side),
        n_candidates=p.n_candidates,
        p_form=p_form,
        sigma=sigma,
        p_elim_dep=p.p_elim_dep,
        p_elim_pot=p.p_elim_pot,
        threshold=p.g_max / 2,
        new_weight=p.g_max,
        max_in_degree=p.max_in_degree,
        autapses=which == "ff",
        return_events=True,
    )
    columns = None if proj.columns is None else _columns(conn, max_col(p))
    return proj._replace(conn=conn, weight=weight, columns=columns), stats, events


def _columns(conn, width):
    view = spars.column_view(conn, width)
    msg = f"an in-degree exceeds the column capacity {width}; pass --max-in-degree"
    return eqx.error_if(view, view.overflow > 0, msg)


def run_block(p: MapParams, state: MapState):
    """``steps_per_rewire`` steps, then one rewiring of each projection.

    Returns:
        ``(state, spike counts (input, target), {"ff": (stats, events), "lat": ...})``.
    """

    def step(s, _):
        s, (x, z) = sim_step(p, s)
        return s, (jnp.sum(x), jnp.sum(z))

    state, counts = lax.scan(step, state, length=p.steps_per_rewire)
    key, k_ff, k_lat = jax.random.split(state.key, 3)
    ff, ff_stats, ff_events = rewire(p, k_ff, state.ff, "ff")
    lat, lat_stats, lat_events = rewire(p, k_lat, state.lat, "lat")
    state = state._replace(ff=ff, lat=lat, key=key)
    total = jax.tree.map(jnp.sum, counts)
    return state, total, {"ff": (ff_stats, ff_events), "lat": (lat_stats, lat_events)}
