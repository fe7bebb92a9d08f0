"""Learning rules for recurrent spiking networks: e-prop and BPTT."""

from .bptt import bptt_grads as bptt_grads
from .eprop import eprop_grads as eprop_grads
from .recurrent import Metrics as Metrics
from .recurrent import RateRegularisation as RateRegularisation
from .recurrent import RecurrentSNN as RecurrentSNN
from .recurrent import loss_terms as loss_terms
from .recurrent import trainable as trainable
from .synapses import DenseSynapses as DenseSynapses
from .synapses import SparseSynapses as SparseSynapses
