"""Step constants of a CurrentLIF population and the in-step kernels of events.

Times inside a step are fractions ``r`` in [0, 1] of ``dt`` (``r = 1``: the
step's end). An event at ``r`` acts on the step's end through kernels of the
time left, ``h = (1 - r) dt``:

- a current jump ``w`` at ``r`` adds ``w k_i(r) = w exp(-h / tau_syn)`` to
  the current and ``w k_v(r) = w P21(h)`` to the potential;
- a reset at ``r`` subtracts ``(v_thresh - v_reset) k_r(r)``, ``k_r(r) =
  exp(-h / tau_mem)``;
- a voltage jump ``w`` into a leaky integrator adds ``w exp(-h / tau)``.

Each kernel comes with its derivative w.r.t. ``r`` (by ``jax.jvp``), which
the adjoint pass multiplies with the cotangents.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ...neurons import CurrentLIF, current_to_voltage


class Cell(NamedTuple):
    """The constants of one CurrentLIF population (potentials relative to ``v_rest``)."""

    decay_v: jax.Array  # P22 = exp(-dt / tau_mem)
    current_to_v: jax.Array  # P21(dt) [mV / pA]
    bias_v: jax.Array  # P20 * bias [mV per step]
    decay_i: jax.Array  # P11 = exp(-dt / tau_syn)
    theta: jax.Array  # v_thresh - v_rest [mV]
    reset: jax.Array  # v_thresh - v_reset [mV], subtracted at a spike
    p20: jax.Array  # P20 = tau_mem / c_mem (1 - P22) [mV / pA per step]
    neuron: CurrentLIF

    @classmethod
    def of(cls, neuron: CurrentLIF, extra_bias=0.0) -> "Cell":
        """``extra_bias`` [pA] adds to the neuron's own ``bias`` (a trained readout bias)."""
        p22, p21, p20, p11 = neuron.propagators
        theta = jnp.asarray(neuron.v_thresh - neuron.v_rest)
        reset = jnp.asarray(neuron.v_thresh - neuron.v_reset)
        return cls(p22, p21, p20 * (neuron.bias + extra_bias), p11, theta, reset, p20, neuron)

    def k_i(self, r):
        n = self.neuron
        return _with_slope(lambda r: jnp.exp(-(1.0 - r) * n.dt / n.tau_syn), r)

    def k_v(self, r):
        n = self.neuron
        return _with_slope(
            lambda r: current_to_voltage((1.0 - r) * n.dt, n.tau_mem, n.tau_syn, n.c_mem), r
        )

    def k_r(self, r):
        n = self.neuron
        return _with_slope(lambda r: jnp.exp(-(1.0 - r) * n.dt / n.tau_mem), r)


def k_leaky(r, tau, dt):
    """``(exp(-(1 - r) dt / tau), its derivative w.r.t. r)``: a voltage jump seen at the end."""
    return _with_slope(lambda r: jnp.exp(-(1.0 - r) * dt / tau), r)


def _with_slope(f, r):
    r = jnp.asarray(r)
    return jax.jvp(f, (r,), (jnp.ones_like(r),))
