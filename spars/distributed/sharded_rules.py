"""Per-device rules and primitives as functions of global arrays (``shard_map`` inside)."""

from collections.abc import Callable

import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..connectivity import Connectivity
from ._local import connectivity_spec, rows_spec, synaptic_specs
from ._mesh import check_divides, shard_map


def row_sharded(rule: Callable, mesh: Mesh, axis: str) -> Callable:
    """``rule(key, conn, variables, *args, axis=, **options)`` run per device on global arrays.

    Args:
        rule: a per-device rule of :mod:`spars.distributed.rules` (or one
            written the same way).
        mesh: the device mesh.
        axis: the mesh axis that splits the rows.

    Returns:
        ``f(key, conn, variables, *args, **options) -> (conn, variables, stats, ...)``
        with the signature of the one-device rule, so it fits
        :func:`spars.rules.rewiring`. ``conn`` and the per-synapse leaves of
        ``variables`` (shaped ``[n_pre, max_row]``) are split by rows, other
        leaves are whole; positional ``args`` that are arrays (RigL's dense
        ``[n_pre, n_post]`` gradient) are split by rows, functions are passed
        as they are; keyword ``options`` are whole on every device. The key is
        the same on every device.
    """

    def call(key, conn: Connectivity, variables, *args, **options):
        check_divides(conn.n_pre, mesh, axis, "n_pre (the rows of the projection)")
        functions = [a if callable(a) else None for a in args]
        arrays = tuple(None if callable(a) else jnp.asarray(a) for a in args)
        conn_spec = connectivity_spec(conn, axis)
        var_spec = synaptic_specs(variables, conn.indices.shape, axis)
        arg_specs = tuple(P() if a is None else rows_spec(a, axis) for a in arrays)

        def body(key, conn, variables, arrays):
            given = [f if a is None else a for f, a in zip(functions, arrays, strict=True)]
            out = rule(key, conn, variables, *given, axis=axis, **options)
            return out[0], out[1], tuple(out[2:])

        specs = (P(), conn_spec, var_spec, arg_specs)
        f = shard_map(body, mesh, specs, (conn_spec, var_spec, P()))
        conn, variables, rest = f(key, conn, variables, arrays)
        return (conn, variables, *rest)

    return call
