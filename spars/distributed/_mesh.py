"""Meshes, ``shard_map`` across JAX versions, and size checks.

spars runs its sharded functions with ``shard_map`` over meshes whose axes
are of the ``Auto`` type (what ``jax.sharding.Mesh`` builds by default; since
JAX 0.7 ``jax.make_mesh`` builds ``Explicit`` axes unless told otherwise).
"""

from collections.abc import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh


def make_mesh(shape: Sequence[int], names: Sequence[str], devices=None) -> Mesh:
    """A device mesh with ``Auto`` axes, e.g. ``make_mesh((2, 4), ("data", "rows"))``.

    Args:
        shape: devices along each axis; their product must be the number of
            devices used.
        names: one name per axis.
        devices: the devices, default ``jax.devices()`` (all processes'
            devices after ``jax.distributed.initialize``).
    """
    devices = jax.devices() if devices is None else list(devices)
    shape, names = tuple(int(s) for s in shape), tuple(names)
    if len(shape) != len(names):
        raise ValueError(f"mesh shape {shape} and axis names {names} differ in length")
    if int(np.prod(shape)) != len(devices):
        raise ValueError(f"mesh shape {shape} needs {int(np.prod(shape))} devices, "
                         f"{len(devices)} are given")  # fmt: skip
    return _auto(Mesh(np.asarray(devices, dtype=object).reshape(shape), names))


def _auto(mesh: Mesh) -> Mesh:
    """``mesh`` with every axis of the ``Auto`` type (shard_map's in_specs then reshard)."""
    axis_type = getattr(jax.sharding, "AxisType", None)
    if axis_type is None:
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(axis_type.Auto,) * mesh.devices.ndim)


def _check_context() -> None:
    """Raises inside a mesh context with ``Explicit`` axes (``jax.set_mesh(jax.make_mesh())``)."""
    get = getattr(jax.sharding, "get_abstract_mesh", None)
    context = None if get is None else get()
    if context is None or getattr(context, "empty", True):
        return
    if any(str(t).endswith("Explicit") for t in getattr(context, "axis_types", ())):
        raise ValueError("spars.distributed runs shard_map over mesh axes of the Auto type; the "
                         "current mesh context has Explicit axes: call it outside that context "
                         "(or under a mesh from spars.distributed.make_mesh)")


def axis_size(mesh: Mesh, axis: str | None) -> int:
    """Devices along ``axis`` of ``mesh`` (1 for None); a clear error for unknown names."""
    if axis is None:
        return 1
    if axis not in mesh.shape:
        raise ValueError(f"mesh has no axis {axis!r} (axes: {tuple(mesh.axis_names)})")
    return int(mesh.shape[axis])


def check_divides(n: int, mesh: Mesh, axis: str | None, what: str) -> int:
    """``n // devices``: raises unless the devices along ``axis`` divide ``n``.

    spars does not pad: a padded neuron or row would change the network.
    """
    devices = axis_size(mesh, axis)
    if n % devices:
        low, high = n - n % devices, n + devices - n % devices
        raise ValueError(
            f"{what} ({n}) must be a multiple of the {devices} devices along mesh axis "
            f"{axis!r}: use {low} or {high}, or a mesh axis that divides {n}"
        )
    return n // devices


def shard_map(f: Callable, mesh: Mesh, in_specs, out_specs) -> Callable:
    """``jax.shard_map`` (or ``jax.experimental.shard_map`` before JAX 0.7) without the
    replication check.

    The check is off because the Pallas kernels inside spars' functions give
    their outputs no varying-axes type; every collective here is written for
    what it moves, and the tests compare every sharded result and gradient
    with one device's.
    """
    _check_context()
    mesh = _auto(mesh)
    if hasattr(jax, "shard_map"):
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                             check_vma=False)  # fmt: skip
    from jax.experimental.shard_map import shard_map as legacy  # JAX < 0.7

    return legacy(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_rep=False)
