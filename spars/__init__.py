"""spars: spiking neural networks with sparse, rewiring connectivity in JAX."""

from . import kernels as kernels
from . import neurons as neurons
from . import rules as rules
from . import structure as structure
from . import surrogate as surrogate
from .builders import fixed_number_post as fixed_number_post
from .builders import fixed_probability as fixed_probability
from .builders import gaussian_grid as gaussian_grid
from .column import ColumnView as ColumnView
from .column import column_view as column_view
from .column import in_degree as in_degree
from .connectivity import Connectivity as Connectivity
from .connectivity import capacity as capacity
from .connectivity import empty as empty
from .convert import from_coo as from_coo
from .convert import from_dense as from_dense
from .convert import to_coo as to_coo
from .convert import to_dense as to_dense
from .propagation import propagate as propagate
from .propagation import propagate_reference as propagate_reference
from .simulate import Network as Network
from .simulate import NetworkState as NetworkState
from .simulate import Projection as Projection
from .simulate import simulate as simulate
from .validation import validate as validate
