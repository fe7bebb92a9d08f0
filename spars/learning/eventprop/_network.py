"""The network EventProp trains: input -> recurrent CurrentLIF layer -> readout."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ...neurons import CurrentLIF, LeakyIntegrator
from ..synapses import DenseSynapses, SparseSynapses, Synapses
from ._simulate import simulate


class EventPropSNN(eqx.Module):
    """Input spikes -> recurrent ``CurrentLIF`` neurons -> readout, spikes placed within steps.

    The simulation (``docs/eventprop.md``) integrates every neuron exactly
    over each step, places each spike at the in-step time where the line
    from the step's start to its end potential crosses the threshold, and
    delivers the spike's current (after its synapse's delay) and its reset
    from that time on. Losses are then smooth functions of the spike times
    between changes of the spike count, and :func:`eventprop_grads` gives
    their exact gradient; ``jax.grad`` through :meth:`run` gives the same
    numbers (BPTT through the same simulation, memory ``T x B x n``).

    Attributes:
        w_in: input synapses ``[n_in -> n_rec]``, weights in [pA].
        w_rec: recurrent synapses ``[n_rec -> n_rec]`` [pA], or None
            (feed-forward). Sparse synapses may carry delays.
        w_out: dense readout weights ``[n_rec, n_out]``: jumps [mV] of a
            ``LeakyIntegrator`` readout, current jumps [pA] of a spiking one.
        b_out: readout bias ``[n_out]``: [mV per step] added to a
            ``LeakyIntegrator``, a constant current [pA] into a ``CurrentLIF``.
        hidden: a :class:`~spars.neurons.CurrentLIF` with ``tau_refrac=0``.
        readout: a :class:`~spars.neurons.LeakyIntegrator` (outputs its
            potential every step; a hidden spike at fraction ``sigma`` of a
            step adds ``w exp(-(1 - sigma) dt / tau_mem)`` at the step's end)
            or a ``CurrentLIF`` with ``tau_refrac=0`` (outputs each neuron's
            first spike time, for :func:`first_spike_loss`).
    """

    w_in: Synapses
    w_rec: Synapses | None
    w_out: Float[Array, "rec out"]
    b_out: Float[Array, " out"]
    hidden: CurrentLIF
    readout: LeakyIntegrator | CurrentLIF

    def __check_init__(self):
        _check_neurons(self.hidden, self.readout)
        for name in ("w_in", "w_rec"):
            syn = getattr(self, name)
            if not (isinstance(syn, SparseSynapses | DenseSynapses) or
                    (syn is None and name == "w_rec")):  # fmt: skip
                raise ValueError(f"{name} must be SparseSynapses or DenseSynapses, got "
                                 f"{type(syn).__name__}")  # fmt: skip
        n_rec, n_out = self.hidden.n, self.readout.n
        if self.w_in.shape[1] != n_rec or (self.w_rec and self.w_rec.shape != (n_rec, n_rec)):
            raise ValueError(f"w_in {self.w_in.shape} / w_rec {_shape(self.w_rec)} must end in "
                             f"hidden.n={n_rec}")  # fmt: skip
        if self.w_out.shape != (n_rec, n_out) or self.b_out.shape != (n_out,):
            raise ValueError(f"w_out {self.w_out.shape} / b_out {self.b_out.shape} must be "
                             f"[{n_rec}, {n_out}] / [{n_out}]")  # fmt: skip

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    @property
    def spiking_readout(self) -> bool:
        return isinstance(self.readout, CurrentLIF)

    @property
    def has_delays(self) -> bool:
        return any(getattr(w, "delay", None) is not None for w in (self.w_in, self.w_rec))

    @property
    def max_delay(self) -> int:
        """Slots of the ring of delayed input (0 without delays)."""
        delayed = [w.max_delay for w in (self.w_in, self.w_rec) if getattr(w, "delay", None)
                   is not None]  # fmt: skip
        return max(delayed, default=0)

    def simulate(self, x: Float[Array, "T B n_in"], *, events: bool = False):
        """The whole :class:`~._simulate.Trace` of the simulation.

        ``events=False`` (default): differentiable by ``jax``; a delayed
        projection scatters every presynaptic row each step. ``events=True``:
        the same simulation with only the spikes' rows scattered (much faster
        with delays and sparse activity; not reverse-differentiable), for
        inference.
        """
        return simulate(self, x, events=events)

    def run(self, x: Float[Array, "T B n_in"], *, events: bool = False):
        """``(hidden spikes [T, B, n_rec], readout)``: the readout's potential ``[T, B, n_out]``
        [mV], or (spiking readout) its first spike times ``[B, n_out]`` [ms], ``T dt`` if none.
        ``events``: as in :meth:`simulate`."""
        trace = self.simulate(x, events=events)
        return trace.spikes.z, trace.readout

    def predict(self, readout_output):
        """Classes: argmax of the time-averaged potential, or the earliest first spike."""
        if self.spiking_readout:
            return jnp.argmin(readout_output, -1)
        return jnp.argmax(readout_output.mean(0), -1)


def _shape(syn):
    return None if syn is None else syn.shape


def _check_neurons(hidden, readout):
    if not isinstance(hidden, CurrentLIF):
        raise ValueError(
            "EventProp differentiates spike times of LIF neurons with exponential current "
            f"synapses: the hidden layer must be a CurrentLIF, got {type(hidden).__name__}"
        )
    if not isinstance(readout, LeakyIntegrator | CurrentLIF):
        raise ValueError(f"the readout must be a LeakyIntegrator or a CurrentLIF, got "
                         f"{type(readout).__name__}")  # fmt: skip
    for name, cell in (("hidden", hidden), ("readout", readout)):
        if not isinstance(cell, CurrentLIF):
            continue
        refrac = cell.tau_refrac
        if not isinstance(refrac, jax.core.Tracer) and np.any(np.asarray(refrac) != 0):
            raise ValueError(
                f"{name}.tau_refrac={refrac!r}: EventProp moves spikes continuously within "
                "and across steps, and a refractory period of whole steps would make the loss "
                "jump when a spike crosses a step; build the CurrentLIF with tau_refrac=0"
            )
        if cell.v_init is not None or cell.v_init_normal is not None:
            raise ValueError(f"{name}: EventPropSNN starts every neuron at rest; drop v_init")
    if readout.dt != hidden.dt:
        raise ValueError(f"readout.dt={readout.dt} must equal hidden.dt={hidden.dt} [ms]")
