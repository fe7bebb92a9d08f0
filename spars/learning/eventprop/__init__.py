"""EventProp: exact gradients through spike times, in memory that grows with the spikes.

:class:`EventPropSNN` simulates input -> recurrent ``CurrentLIF`` layer ->
readout with each spike placed within its step (the crossing of the line
between the step's start and end potentials) and its current and reset
delivered from that time; :func:`eventprop_grads` returns the exact
gradient of a loss of that simulation w.r.t. the weights and (float)
delays from a forward pass that records the spikes and an adjoint pass in
reverse time with jumps at them (Wunderlich & Pehle 2021; delays: Meszaros,
Knight & Nowotny 2025). See docs/eventprop.md for the equations.
"""

from ._grads import eventprop_grads as eventprop_grads
from ._losses import ActivityFloor as ActivityFloor
from ._losses import FirstSpikeLoss as FirstSpikeLoss
from ._losses import activity_floor as activity_floor
from ._losses import max_cross_entropy as max_cross_entropy
from ._losses import rate_regulariser as rate_regulariser
from ._losses import summed_cross_entropy as summed_cross_entropy
from ._network import EventPropSNN as EventPropSNN
from ._simulate import Trace as Trace
