"""Where the topographic map's time goes: each component timed on its own.

The simulation is one fused XLA program, so its parts cannot be clocked in
place. Instead each component runs alone in a jitted ``lax.scan`` for the
same steps, on the run's current state and on spike trains recorded from
it, and is timed after compiling. The sum is printed beside the fused run's
wall time.
"""

import jax
import jax.numpy as jnp
from jax import lax

import spars
from experiments.common.timing import time_call
from experiments.topographic import model

COMPONENTS = (
    "input generation",
    "neuron update",
    "event lists",
    "propagation",
    "STDP",
    "structural update",
    "column-view rebuild",
)


def record(p: model.MapParams, state: model.MapState, n_steps: int):
    """``(input spikes, target spikes)``, ``[n_steps, n]`` each, from simulating ``state``."""
    return jax.jit(lambda s: lax.scan(lambda c, _: model.sim_step(p, c), s, length=n_steps)[1])(
        state
    )


def _timed(body, carry, xs) -> float:
    """Seconds to scan ``carry = body(carry, x)`` over ``xs``, jitted, after compiling."""

    def step(c, x):  # the barrier keeps XLA from hoisting loop-invariant work out of the scan
        return body(*lax.optimization_barrier((c, x))), None

    fn = jax.jit(lambda c, xs: lax.scan(step, c, xs)[0])
    return time_call(fn, carry, xs, reps=1) * 1e-3


def breakdown(p: model.MapParams, state: model.MapState, n_steps: int = 500) -> dict:
    """Seconds per second of model time of each component (see module docstring)."""
    x, z = record(p, state, n_steps)
    drive = jnp.roll(z, 1, axis=0)
    n_rewire = max(n_steps // p.steps_per_rewire, 1)
    neuron = model.neuron_model(p)
    keys = jax.random.split(jax.random.key(0), n_rewire)
    bare = (state.ff._replace(columns=None), state.lat._replace(columns=None))  # rebuilds apart

    def inputs(c, k):
        return model.input_spikes(p, k, c[0], c[1])[1], c[1] + 1

    events = jax.vmap(spars.spike_events)(x), jax.vmap(spars.spike_events)(z)

    def listing(c, xz):  # each step lists its input and its target spikes once
        return c + spars.spike_events(xz[0]).count + spars.spike_events(xz[1]).count

    def propagation(c, xz):
        x, z, (x_ev, z_ev) = xz
        g = spars.propagate(state.ff.conn, state.ff.weight, x, events=x_ev)
        return c + g + spars.propagate(state.lat.conn, state.lat.weight, z, events=z_ev)

    def stdp(c, xz):
        x, z, (x_ev, z_ev) = xz
        return model.learn(p, c[0], x, z, x_ev), model.learn(p, c[1], z, z, z_ev)

    def structural(c, k):
        k_ff, k_lat = jax.random.split(k)
        ff = model.rewire(p, k_ff, c[0], "ff")[0]
        return ff, model.rewire(p, k_lat, c[1], "lat")[0]

    def columns(c, _):
        width = model.max_col(p)
        ff, lat = spars.column_view(c[0], width), spars.column_view(c[1], width)
        return c[0], c[1], c[2] + ff.col_length[0] + lat.col_length[0]

    seconds = {
        "input generation": _timed(
            inputs, (state.bump, state.step), jax.random.split(state.key, n_steps)
        ),
        "neuron update": _timed(lambda c, g: neuron.step(c, g)[1], state.target, drive * 0.05),
        "event lists": _timed(listing, jnp.int32(0), (x, z)),
        "propagation": _timed(propagation, jnp.zeros(p.n), (x, z, events)),
        "STDP": _timed(stdp, (state.ff, state.lat), (x, z, events)),
        "structural update": _timed(structural, bare, keys),
        "column-view rebuild": _timed(columns, (state.ff.conn, state.lat.conn, jnp.int32(0)), keys)
        if p.stdp == "columns"
        else 0.0,
    }
    model_seconds = n_steps * p.dt * 1e-3
    return {name: t / model_seconds for name, t in seconds.items()}
