"""LIF with an exponential synaptic current, NEST's ``iaf_psc_exp`` (exact integration)."""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._checks import is_concrete, non_negative, positive
from ..surrogate import FastSigmoid
from ._lif import Potential, _drive

Current = Float[Array, "*batch n"]


class CurrentLIFState(NamedTuple):
    v: Potential  # membrane potential [mV]
    i: Current  # synaptic current [pA]
    refrac: Int[Array, "*batch n"]  # refractory steps left


def current_to_voltage(h, tau_mem, tau_syn, c_mem):
    """NEST's propagator ``P21(h)`` [mV/pA]: the potential at ``h`` [ms] of a unit current at 0.

    ``tau_syn tau_mem / (c_mem (tau_mem - tau_syn)) (exp(-h/tau_mem) - exp(-h/tau_syn))``,
    written as NEST writes it (``expm1``) and replaced by its limit ``h / c_mem
    exp(-h/tau_mem)`` where that form is not a positive normal number (``tau_mem
    == tau_syn``, or so close that it cancels).
    """
    tau_mem, tau_syn = jnp.asarray(tau_mem), jnp.asarray(tau_syn)
    same = tau_mem == tau_syn
    diff = jnp.where(same, 1.0, tau_mem - tau_syn)  # keeps the unused branch finite under grad
    beta = tau_syn * tau_mem / diff
    regular = beta / c_mem * jnp.exp(-h / tau_syn) * jnp.expm1(h / beta)
    singular = h / c_mem * jnp.exp(-h / tau_mem)
    tiny = jnp.finfo(jnp.result_type(regular)).tiny
    usable = ~same & jnp.isfinite(regular) & (regular > tiny)
    return jnp.where(usable, regular, singular)


class CurrentLIF(eqx.Module):
    """LIF driven by an exponentially decaying synaptic current (NEST's ``iaf_psc_exp``).

    ``dv/dt = -(v - v_rest) / tau_mem + (i + bias) / c_mem`` and ``di/dt = -i /
    tau_syn``; ``drive`` is the summed weight [pA] of the spikes arriving this
    step. Each step follows NEST's update, integrated exactly:

    1. not refractory: ``v <- v_rest + P22 (v - v_rest) + P21 i + P20 bias``;
       refractory: one refractory step less (``v`` stays at ``v_reset``);
    2. ``i <- P11 i + drive`` (arrivals act on ``v`` from the next step);
    3. ``v >= v_thresh``: a spike, ``v <- v_reset``, refractory for
       ``round(tau_refrac / dt)`` steps.

    with ``P22 = exp(-dt/tau_mem)``, ``P11 = exp(-dt/tau_syn)``, ``P20 =
    tau_mem / c_mem (1 - P22)`` and ``P21`` = :func:`current_to_voltage` of ``dt``.
    A spars simulation then matches NEST's step for step (a spike in step
    ``t`` is NEST's spike at ``(t + 1) dt``; delays as in docs/delays.md).

    Defaults are the Potjans & Diesmann (2014) microcircuit's neurons; NEST's
    own ``iaf_psc_exp`` defaults differ in ``v_rest = v_reset = -70``,
    ``v_thresh = -55`` and ``tau_syn = 2``.

    Attributes:
        n: number of neurons.
        tau_mem: membrane time constant [ms] (NEST ``tau_m``).
        tau_syn: synaptic time constant [ms] (``tau_syn_ex`` = ``tau_syn_in``).
        c_mem: membrane capacitance [pF] (``C_m``).
        v_rest, v_thresh, v_reset: potentials [mV] (``E_L``, ``V_th``, ``V_reset``).
        tau_refrac: refractory period [ms] (``t_ref``), rounded to whole steps.
        dt: time step [ms].
        bias: constant input current [pA] (NEST's ``I_e``), a scalar or ``[n]``.
        spike_fn: surrogate spike function, for gradients through ``step``.
        detach_reset: stop gradients through the reset.
        v_init: ``(low, high)`` [mV]: ``init`` draws each potential uniformly.
        v_init_normal: ``(mean, std)`` [mV]: ``init`` draws each potential from a
            normal distribution (the microcircuit's). At most one of the two;
            None for both starts every neuron at ``v_rest``.
    """

    n: int = eqx.field(static=True)
    tau_mem: float = 10.0
    tau_syn: float = 0.5
    c_mem: float = 250.0
    v_rest: float = -65.0
    v_thresh: float = -50.0
    v_reset: float = -65.0
    tau_refrac: float = 2.0
    dt: float = 0.1
    bias: float | Float[Array, " n"] = 0.0
    spike_fn: eqx.Module = FastSigmoid()
    detach_reset: bool = eqx.field(static=True, default=False)
    v_init: tuple[float, float] | None = eqx.field(static=True, default=None)
    v_init_normal: tuple[float, float] | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        for name in ("tau_mem", "tau_syn", "c_mem", "dt"):
            positive(name, getattr(self, name), " [pF]" if name == "c_mem" else " [ms]")
        non_negative("tau_refrac", self.tau_refrac, " [ms]")
        if is_concrete(self.v_reset, self.v_thresh) and np.any(
            np.asarray(self.v_reset) >= np.asarray(self.v_thresh)
        ):
            raise ValueError(f"v_reset ({self.v_reset} mV) must lie below v_thresh "
                             f"({self.v_thresh} mV), or every reset fires again")  # fmt: skip
        _check_draw(self.v_init, self.v_init_normal)

    @property
    def propagators(self) -> tuple:
        """``(P22, P21, P20, P11)`` of one step, as in NEST's ``calibrate``."""
        p22 = jnp.exp(-self.dt / jnp.asarray(self.tau_mem))
        p21 = current_to_voltage(self.dt, self.tau_mem, self.tau_syn, self.c_mem)
        p20 = self.tau_mem / self.c_mem * (1.0 - p22)
        return p22, p21, p20, jnp.exp(-self.dt / jnp.asarray(self.tau_syn))

    @property
    def refractory_steps(self):
        return jnp.round(jnp.asarray(self.tau_refrac) / self.dt).astype(jnp.int32)

    def init(self, batch_shape: tuple[int, ...] = (), key=None) -> CurrentLIFState:
        shape = (*batch_shape, self.n)
        v = self._initial_v(shape, key)
        return CurrentLIFState(v, jnp.zeros(shape, v.dtype), jnp.zeros(shape, jnp.int32))

    def _initial_v(self, shape, key):
        draw = self.v_init or self.v_init_normal
        if draw is None:
            return jnp.full(shape, self.v_rest, jnp.result_type(float))
        if key is None:
            raise ValueError("v_init / v_init_normal draw the initial potentials: init "
                             "needs a PRNG key")  # fmt: skip
        if self.v_init is not None:
            return jax.random.uniform(key, shape, minval=draw[0], maxval=draw[1])
        return draw[0] + draw[1] * jax.random.normal(key, shape)

    def step(self, state: CurrentLIFState, drive=None) -> tuple[Potential, CurrentLIFState]:
        v, i = self._integrate(state, drive)
        spikes = self.spike_fn(v - self.v_thresh) * (state.refrac == 0)
        return spikes, self._next_state(state, v, i, spikes)

    def step_with_derivative(self, state: CurrentLIFState, drive=None):
        """:meth:`step` that also returns ``d spikes / d v`` [1/mV]: ``(spikes, psi, state)``.

        ``psi`` is the surrogate's derivative at ``v - v_thresh``; 0 while refractory.
        """
        v, i = self._integrate(state, drive)
        x = v - self.v_thresh
        spikes, psi = jax.jvp(self.spike_fn, (x,), (jnp.ones_like(x),))
        ready = state.refrac == 0
        spikes = spikes * ready
        return spikes, psi * ready, self._next_state(state, v, i, spikes)

    def _integrate(self, state, drive):
        """NEST's steps 1 and 2: the potential (held while refractory) and the current."""
        p22, p21, p20, p11 = self.propagators
        free = self.v_rest + p22 * (state.v - self.v_rest) + p21 * state.i + p20 * self.bias
        v = jnp.where(state.refrac > 0, state.v, free)
        return v, p11 * state.i + _drive(drive, state.i)

    def _next_state(self, state, v, i, spikes):
        z = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        v = v + z * (self.v_reset - v)
        refrac = jnp.where(spikes > 0, self.refractory_steps, jnp.maximum(state.refrac - 1, 0))
        return CurrentLIFState(v, i, refrac)


def _check_draw(uniform, normal) -> None:
    if uniform is not None and normal is not None:
        raise ValueError("give v_init (uniform) or v_init_normal, not both")
    if uniform is not None and not (len(uniform) == 2 and float(uniform[0]) <= float(uniform[1])):
        raise ValueError(f"v_init must be (low, high) with low <= high [mV], got {uniform}")
    if normal is not None and not (len(normal) == 2 and float(normal[1]) >= 0):
        raise ValueError(f"v_init_normal must be (mean, std) with std >= 0 [mV], got {normal}")
