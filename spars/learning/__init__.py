"""Learning rules: e-prop, BPTT and EventProp for recurrent networks, STDP for projections."""

from . import eventprop as eventprop
from .bptt import bptt_grads as bptt_grads
from .eprop import eprop_grads as eprop_grads
from .eventprop import EventPropSNN as EventPropSNN
from .eventprop import eventprop_grads as eventprop_grads
from .recurrent import Metrics as Metrics
from .recurrent import RateRegularisation as RateRegularisation
from .recurrent import RecurrentSNN as RecurrentSNN
from .recurrent import feed_forward_snn as feed_forward_snn
from .recurrent import loss_terms as loss_terms
from .recurrent import mean_cross_entropy as mean_cross_entropy
from .recurrent import per_step_cross_entropy as per_step_cross_entropy
from .recurrent import trainable as trainable
from .stdp import STDP as STDP
from .stdp import STDPTraces as STDPTraces
from .stdp import stdp_update as stdp_update
from .stdp import stdp_update_columns as stdp_update_columns
from .synapses import DenseSynapses as DenseSynapses
from .synapses import SparseSynapses as SparseSynapses
