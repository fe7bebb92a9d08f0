"""Argument checks shared by the library: static where the value is, ``eqx.error_if`` where not."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(*values) -> bool:
    """True when no value is a tracer (so it can be checked now, in Python)."""
    return not any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(values))


def positive(name: str, value, unit: str = "") -> None:
    """Raises unless every entry of a concrete ``value`` is finite and > 0."""
    if is_concrete(value):
        x = np.asarray(value, dtype=float)
        if not (np.all(np.isfinite(x)) and np.all(x > 0)):
            raise ValueError(f"{name} must be finite and > 0{unit}, got {_show(x)}")


def non_negative(name: str, value, unit: str = "") -> None:
    """Raises unless every entry of a concrete ``value`` is finite and >= 0."""
    if is_concrete(value):
        x = np.asarray(value, dtype=float)
        if not (np.all(np.isfinite(x)) and np.all(x >= 0)):
            raise ValueError(f"{name} must be finite and >= 0{unit}, got {_show(x)}")


def fraction(name: str, value):
    """``value`` if it lies in [0, 1]; raises now (concrete) or at run time (traced, jit)."""
    message = f"{name} must lie in [0, 1] (NaN is not a fraction)"
    if is_concrete(value):
        x = np.asarray(value, dtype=float)
        if not np.all((x >= 0) & (x <= 1)):
            raise ValueError(f"{message}, got {_show(x)}")
        return value
    x = jnp.asarray(value)
    return eqx.error_if(x, ~((x >= 0) & (x <= 1)), message)


def integer(name: str, x):
    """Raises if ``x`` has a float or complex dtype (indices are never rounded silently)."""
    if not hasattr(x, "dtype") and np.size(x) == 0:
        return np.zeros(np.shape(x), np.int32)  # an empty list: nothing to round
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_)):
        raise ValueError(f"{name} must be integers, got dtype {dtype}: round or cast it first")
    return x


def _show(x: np.ndarray):
    return x.item() if x.size == 1 else f"an array with {x.size} entries (min {x.min()})"
