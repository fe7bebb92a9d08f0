"""LIF with conductance-based exponential synapses (GeNN's ``LIF`` with ``ExpCond``)."""

from typing import NamedTuple

from jaxtyping import Array, Float, Int

from ._lif import LIF, LIFState, Potential, _decay, _drive

Conductance = Float[Array, "*batch n"]


class ConductanceLIFState(NamedTuple):
    v: Potential  # membrane potential [mV]
    refrac: Int[Array, "*batch n"]  # refractory steps left
    g: Conductance  # synaptic conductance [uS]


class ConductanceLIF(LIF):
    """LIF whose input is a conductance with reversal potential ``e_rev``.

    ``drive`` is the conductance delivered this step [uS] (the summed weights
    of the arriving spikes). Each step, as GeNN's ``LIF`` + ``ExpCond``:
    ``g <- g + drive``; the current ``I = g (e_rev - v)`` [nA] is held over
    the step and ``v`` integrated exactly,
    ``v <- v_inf + (v - v_inf) exp(-dt / tau_mem)`` with
    ``v_inf = v_rest + I tau_mem / c_mem``; then ``g <- g exp(-dt / tau_syn)``.
    Threshold, reset and refractory period (``v`` held at ``v_reset``) as
    :class:`LIF`; ``g`` keeps decaying while refractory.

    Attributes (beyond :class:`LIF`, whose defaults here are the
    Bamford et al. 2010 target neurons):
        c_mem: membrane capacitance [nF] (resistance ``tau_mem / c_mem`` [MOhm]).
        tau_syn: synaptic time constant [ms].
        e_rev: synaptic reversal potential [mV].
    """

    v_thresh: float = -54.0
    v_reset: float = -70.0
    v_rest: float = -70.0
    tau_refrac: float = 5.0
    dt: float = 0.1
    c_mem: float = 20.0
    tau_syn: float = 5.0
    e_rev: float = 0.0

    def init(self, key=None, batch_shape: tuple[int, ...] = ()) -> ConductanceLIFState:
        v, refrac = super().init(key, batch_shape)
        return ConductanceLIFState(v, refrac, 0.0 * v)

    def step(self, state: ConductanceLIFState, drive=None):
        g, lif_state, jump = self._open_channels(state, drive)
        spikes, lif_state = super().step(lif_state, jump)
        return spikes, self._close_channels(lif_state, g)

    def step_with_derivative(self, state: ConductanceLIFState, drive=None):
        """As :meth:`LIF.step_with_derivative`; ``psi`` is ``d spikes / d v`` [1/mV]."""
        g, lif_state, jump = self._open_channels(state, drive)
        spikes, psi, lif_state = super().step_with_derivative(lif_state, jump)
        return spikes, psi, self._close_channels(lif_state, g)

    def _open_channels(self, state, drive):
        """Conductance after arrivals, the LIF state, and the step's voltage change from I."""
        g = state.g + _drive(drive, state.g)
        resistance = self.tau_mem / self.c_mem
        leak = 1.0 - _decay(self.tau_mem, self.dt)
        jump = leak * resistance * g * (self.e_rev - state.v)
        return g, LIFState(state.v, state.refrac), jump

    def _close_channels(self, lif_state, g):
        return ConductanceLIFState(lif_state.v, lif_state.refrac, g * _decay(self.tau_syn, self.dt))
