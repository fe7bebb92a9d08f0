"""Rewiring rules: ``rule(key, conn, variables, ...) -> (conn, variables, RewireStats)``.

All are jit-compiled functions with fixed shapes, vmappable over independent
networks, built from the primitives in :mod:`spars.structure`.
"""

from ..structure import RewireStats as RewireStats
from ._common import dale_signs as dale_signs
from .deep_r import DeepRNoiseState as DeepRNoiseState
from .deep_r import deep_r as deep_r
from .deep_r import deep_r_init as deep_r_init
from .deep_r import deep_r_l1 as deep_r_l1
from .deep_r import deep_r_noise as deep_r_noise
from .deep_r import deep_r_weights as deep_r_weights
from .deep_r_rigl import deep_r_rigl as deep_r_rigl
from .pruning import magnitude_prune as magnitude_prune
from .pruning import zhu_gupta_sparsity as zhu_gupta_sparsity
from .rewiring import Rewiring as Rewiring
from .rewiring import RewiringState as RewiringState
from .rewiring import rewiring as rewiring
from .rigl import outer_product_grad as outer_product_grad
from .rigl import outer_product_score as outer_product_score
from .rigl import rigl as rigl
from .set_rewire import set_rewire as set_rewire
from .topographic import TopographicEvents as TopographicEvents
from .topographic import topographic as topographic
