"""CPU kernels: compiled numba loops run by XLA:CPU as typed FFI custom calls.

Each kernel has the same results as its XLA twin in ``spars.kernels`` and is
chosen by the same platform dispatch (``spars.kernels._backend.dispatch``):
on a CPU with numba installed the compiled program calls the loop, elsewhere
the twin runs. Loops are compiled on first use (cached on disk by numba).
``spars.kernels.backend("xla")`` forces the twins here too.
"""

import importlib.util

AVAILABLE = importlib.util.find_spec("numba") is not None  # without numba the twins run
