"""Which implementation runs: the Pallas kernels on CUDA, the XLA twins elsewhere.

The choice is made when a function is traced. ``"auto"`` (the default) puts
both into the program with :func:`jax.lax.platform_dependent`, so the
compiled program takes the Pallas kernel on CUDA and the XLA twin on every
other platform. ``"xla"`` forces the reference twins everywhere and
``"interpret"`` runs the Pallas kernels in interpret mode on any platform
(slow; for tests and debugging). A JAX without Pallas's Triton lowering
gets the twins everywhere. The environment variable ``SPARS_KERNELS``
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


def dispatch(pallas: Callable, xla: Callable, *args, twin_only: bool = False):
    """``pallas(*args, interpret=...)`` on CUDA, ``xla(*args)`` elsewhere, per the backend.

    ``twin_only`` (e.g. an empty projection, which gives a kernel no grid)
    runs the twin on every platform.
    """
    mode = get_backend()
    if twin_only or mode == "xla" or (mode == "auto" and not AVAILABLE):
        return xla(*args)
    if mode == "interpret":
        return pallas(*args, interpret=True)
    return lax.platform_dependent(
        *args, cuda=lambda *a: pallas(*a, interpret=False), default=xla
    )
