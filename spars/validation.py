"""Checks of the padded-row invariants, with messages that name the slot."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .connectivity import Connectivity


def validate(conn: Connectivity, *variables) -> Connectivity:
    """Checks the four padded-row invariants of ``conn`` and its variables.

    1. ``0 <= row_length[i] <= max_row``;
    2. real slots hold targets in ``[0, n_post)``, none twice in a row;
    3. rows are compact: padding slots hold ``n_post`` and zero variables;
    4. variables have shape ``[n_pre, max_row]`` and finite real slots.

    On concrete arrays the error names the first offending row and slot. Under
    ``jax.jit`` the checks become ``eqx.error_if`` runtime errors attached to
    the returned connectivity: use the return value so they are not dropped.

    Args:
        conn: the connectivity to check.
        *variables: per-synapse variables (arrays or PyTrees of arrays).

    Returns:
        ``conn`` (with runtime checks attached to ``indices`` and
        ``row_length`` when traced).

    Raises:
        ValueError: naming the invariant, the row and the slot that break it.
    """
    leaves = [leaf for v in variables for leaf in jax.tree.leaves(v)]
    for leaf in leaves:
        if jnp.shape(leaf) != conn.indices.shape:
            raise ValueError(
                f"per-synapse variable of shape {jnp.shape(leaf)} does not match "
                f"the connectivity's [n_pre, max_row]={conn.indices.shape}"
            )
    traced = any(isinstance(x, jax.core.Tracer) for x in [*jax.tree.leaves(conn), *leaves])
    if traced:
        return _validate_traced(conn, leaves)
    _validate_concrete(conn, [np.asarray(x) for x in leaves])
    return conn


def _validate_concrete(conn: Connectivity, leaves: list[np.ndarray]) -> None:
    idx = np.asarray(conn.indices)
    length = np.asarray(conn.row_length)
    n_pre, max_row = idx.shape
    bad = np.flatnonzero((length < 0) | (length > max_row))
    if bad.size:
        i = bad[0]
        raise ValueError(f"row {i}: row_length={length[i]} is outside [0, max_row={max_row}]")
    real = np.arange(max_row)[None, :] < length[:, None]
    _first_bad_slot(
        real & ((idx < 0) | (idx >= conn.n_post)),
        lambda i, k: f"row {i} slot {k}: index {idx[i, k]} is outside [0, n_post={conn.n_post})",
    )
    _first_bad_slot(
        ~real & (idx != conn.n_post),
        lambda i, k: (
            f"row {i} slot {k}: padding slot (row_length={length[i]}) holds "
            f"index {idx[i, k]}; rows must be compact with padding index n_post="
            f"{conn.n_post}"
        ),
    )
    _first_bad_slot(
        _duplicate_slots(idx, real),
        lambda i, k: f"row {i} slot {k}: target {idx[i, k]} appears twice in the row",
    )
    for n, var in enumerate(leaves):
        _first_bad_slot(
            ~real & (var != 0),
            lambda i, k, n=n, v=var: (
                f"variable {n}, row {i} slot {k}: padding slot "
                f"holds {v[i, k]}; padding must be zero"
            ),
        )
        _first_bad_slot(
            real & ~np.isfinite(var),
            lambda i, k, n=n, v=var: f"variable {n}, row {i} slot {k}: non-finite value {v[i, k]}",
        )


def _first_bad_slot(bad: np.ndarray, message) -> None:
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ValueError(message(int(i), int(k)))


def _duplicate_slots(idx: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``bool[n_pre, max_row]``: real slots whose target occurs earlier in the row."""
    n_pre, max_row = idx.shape
    keys = np.where(real, idx.astype(np.int64), -1 - np.arange(max_row)[None, :])
    order = np.argsort(keys, axis=1, kind="stable")
    ranked = np.take_along_axis(keys, order, axis=1)
    repeat = np.zeros_like(real)
    repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    dup = np.zeros_like(real)
    np.put_along_axis(dup, order, repeat, axis=1)
    return dup & real


def _validate_traced(conn: Connectivity, leaves: list) -> Connectivity:
    idx, length = conn.indices, conn.row_length
    real = conn.mask
    sorted_idx = jnp.sort(jnp.where(real, idx, -1 - jnp.arange(conn.max_row)), axis=1)
    checks = [
        (
            jnp.any((length < 0) | (length > conn.max_row)),
            "row_length outside [0, max_row]",
        ),
        (
            jnp.any(real & ((idx < 0) | (idx >= conn.n_post))),
            "index outside [0, n_post)",
        ),
        (jnp.any(~real & (idx != conn.n_post)), "padding slot does not hold n_post"),
        (jnp.any(sorted_idx[:, 1:] == sorted_idx[:, :-1]), "duplicate target in a row"),
    ]
    for var in leaves:
        checks.append((jnp.any(~real & (var != 0)), "non-zero variable in padding"))
        checks.append((jnp.any(real & ~jnp.isfinite(var)), "non-finite variable"))
    for pred, msg in checks:  # on both fields, so using either one keeps the check
        idx = eqx.error_if(idx, pred, f"invalid connectivity: {msg}")
        length = eqx.error_if(length, pred, f"invalid connectivity: {msg}")
    return Connectivity(idx, length, conn.n_post)
