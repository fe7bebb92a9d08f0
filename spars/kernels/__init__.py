"""Pallas GPU kernels and their XLA reference twins.

The public functions (:func:`spars.propagate`, :func:`spars.column_view`,
:func:`spars.structure.remove`, :func:`spars.structure.add`) dispatch here:
Pallas (Triton) kernels on CUDA, the XLA twins on every other platform.
``spars.kernels.backend("xla")`` forces the twins; see docs/kernels.md.
"""

from ._backend import BACKENDS as BACKENDS
from ._backend import backend as backend
from ._backend import get_backend as get_backend
from ._backend import set_backend as set_backend
