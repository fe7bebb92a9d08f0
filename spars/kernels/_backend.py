"""Which implementation runs: Pallas kernels on CUDA, numba loops on CPU, XLA twins elsewhere.

The choice is made when a function is traced. ``"auto"`` (the default) puts
every implementation into the program with :func:`jax.lax.platform_dependent`,
so the compiled program takes the Pallas kernel on CUDA, the compiled CPU
loop (``spars.kernels.cpu``, where numba is installed and the kernel has one)
on CPU and the XLA twin on every other platform. ``"xla"`` forces the reference twins everywhere and
``"interpret"`` runs the Pallas kernels in interpret mode on any platform
(slow; for tests and debugging). A JAX without Pallas's Triton lowering
gets the twins on GPUs, and one without numba on CPUs. The environment variable ``SPARS_KERNELS``
sets the starting value.

Functions already traced under ``jax.jit`` keep the path they were traced
with; change the backend before the first call, or clear the caches with
``jax.clear_caches()``.
"""

import contextlib
import os
from collections.abc import Callable, Iterator

from jax import lax

from ._pallas import AVAILABLE
from .cpu import AVAILABLE as CPU_AVAILABLE

BACKENDS = ("auto", "xla", "interpret")
_state = {"backend": os.environ.get("SPARS_KERNELS", "auto")}


def _checked(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown kernel backend {name!r}; choose one of {BACKENDS}")
    return name


def get_backend() -> str:
    """The current backend: ``"auto"``, ``"xla"`` or ``"interpret"``."""
    return _checked(_state["backend"])


def set_backend(name: str) -> None:
    """Sets the backend for functions traced from now on (see the module docstring)."""
    _state["backend"] = _checked(name)


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    """Context manager: ``with spars.kernels.backend("xla"): ...`` forces the reference path."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def runs_twin_only(cpu: bool) -> bool:
    """True if :func:`dispatch` runs the twin on every platform (``cpu``: a CPU kernel exists)."""
    return get_backend() == "xla" or (
        get_backend() == "auto" and not AVAILABLE and not (CPU_AVAILABLE and cpu)
    )


def dispatch(pallas: Callable, xla: Callable, *args, twin_only: bool = False,
             cpu: Callable | None = None):
    """``pallas(*args, interpret=...)`` on CUDA, ``cpu(*args)`` on CPU, ``xla(*args)`` elsewhere.

    ``twin_only`` (e.g. an empty projection, which gives a kernel no grid)
    runs the twin on every platform; so does a missing ``cpu`` on the CPU.
    """
    if twin_only or runs_twin_only(cpu is not None):
        return xla(*args)
    if get_backend() == "interpret":
        return pallas(*args, interpret=True)
    branches = {"cuda": lambda *a: pallas(*a, interpret=False)} if AVAILABLE else {}
    if CPU_AVAILABLE and cpu is not None:
        branches["cpu"] = cpu
    return lax.platform_dependent(*args, **branches, default=xla)
