"""Networks and training split over devices with ``jax.sharding`` and ``shard_map``.

See docs/scale_out.md. Functions named ``*_rows``, and those of
:mod:`spars.distributed.structure` and :mod:`spars.distributed.rules`, run
per device inside ``shard_map`` and take the mesh ``axis`` name; the others
take global arrays and a ``mesh`` and call ``shard_map`` themselves.
"""

from . import exchange as exchange
from . import rules as rules
from . import structure as structure
from ._mesh import check_divides as check_divides
from ._mesh import make_mesh as make_mesh
from ._mesh import shard_map as shard_map
from .blocks import BlockedProjection as BlockedProjection
from .blocks import TargetBlocks as TargetBlocks
from .blocks import merge_targets as merge_targets
from .blocks import split_targets as split_targets
from .exchange import gather_spikes as gather_spikes
from .propagation import propagate as propagate
from .propagation import propagate_rows as propagate_rows
from .propagation import reduce_input as reduce_input
from .sharded_rules import row_sharded as row_sharded
from .simulate import simulate as simulate
from .training import ShardedSynapses as ShardedSynapses
from .training import data_parallel as data_parallel
from .training import row_group_grads as row_group_grads
from .training import shard_synapses as shard_synapses
from .training import unshard_synapses as unshard_synapses
