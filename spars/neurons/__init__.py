"""Neuron models and spike sources as pure ``init``/``step`` PyTrees.

Every population has ``init(batch_shape=(), key=None) -> state`` and
``step(state, drive) -> (output, state)``. For neurons ``drive`` is the input
delivered this step [mV] (weights are jumps of the membrane potential, as in
mlGeNN and e-prop; for ``CurrentLIF`` jumps of its synaptic current [pA]) and
the output is spikes (0.0/1.0); a readout outputs its
potential; a Poisson source reads ``drive`` as rates [Hz]. ``drive=None``
means no input. Time constants are in [ms], potentials in [mV].
"""

from ._conductance import ConductanceLIF as ConductanceLIF
from ._conductance import ConductanceLIFState as ConductanceLIFState
from ._current import CurrentLIF as CurrentLIF
from ._current import CurrentLIFState as CurrentLIFState
from ._current import current_to_voltage as current_to_voltage
from ._lif import ALIF as ALIF
from ._lif import LIF as LIF
from ._lif import ALIFState as ALIFState
from ._lif import LIFState as LIFState
from ._sources import LeakyIntegrator as LeakyIntegrator
from ._sources import PoissonSource as PoissonSource
from ._sources import PoissonState as PoissonState
from ._sources import SpikeTrain as SpikeTrain
