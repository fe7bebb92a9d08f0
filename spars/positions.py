"""Neuron positions and the delays they imply (distance / conduction velocity).

Positions are float arrays ``[n, dims]`` (2-D or 3-D) in any length unit;
a population on a torus gives ``period`` (its box size per axis) and
distances take the nearest periodic image, as :func:`spars.gaussian_grid`
does. Everything here is differentiable w.r.t. positions and velocity, so
learning positions is ``jax.grad`` through :func:`delays_from_positions`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import SynapseVar
from ._grid import periodic
from .connectivity import Connectivity
from .delays import validate_delays


def grid_positions(shape: tuple[int, ...], onto_shape: tuple[int, ...] | None = None):
    """Positions ``float32[prod(shape), len(shape)]`` of a grid's neurons, row-major.

    Neuron ``i`` of a ``(h, w)`` grid sits at ``(i // w, i % w)``;
    ``onto_shape`` scales them onto another grid's units, as
    :func:`spars.gaussian_grid` places presynaptic neurons.
    """
    axes = [jnp.arange(n, dtype=jnp.float32) for n in shape]
    grid = jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    if onto_shape is None:
        return grid
    return grid * (jnp.asarray(onto_shape, jnp.float32) / jnp.asarray(shape, jnp.float32))


def synapse_distances(conn: Connectivity, pre_positions, post_positions, *, period=None):
    """Euclidean distance of every synapse ``[n_pre, max_row]``, 0 in padding.

    Args:
        conn: the connectivity.
        pre_positions: ``[n_pre, dims]``.
        post_positions: ``[n_post, dims]``.
        period: box size per axis (scalar or ``[dims]``) for periodic
            boundaries; None for open space.

    The gradient at distance 0 (an autapse) is 0, not NaN.
    """
    pre, post = jnp.asarray(pre_positions), jnp.asarray(post_positions)
    if pre.ndim != 2 or post.ndim != 2 or pre.shape[1] != post.shape[1]:
        raise ValueError(f"positions must be [n, dims] with equal dims, got {pre.shape} and "
                         f"{post.shape}")  # fmt: skip
    if (pre.shape[0], post.shape[0]) != conn.shape:
        raise ValueError(f"positions for {pre.shape[0]} -> {post.shape[0]} neurons; the "
                         f"connectivity is {conn.shape[0]} -> {conn.shape[1]}")  # fmt: skip
    target = jnp.minimum(conn.indices, max(conn.n_post - 1, 0))
    distance = pair_distance(pre[:, None, :], post[target], period)
    return jnp.where(conn.mask, distance, 0.0)


def pair_distance(pre_xy, post_xy, period=None):
    """Euclidean (optionally periodic) distance ``[...]`` of positions ``[..., dims]``.

    Its gradient at distance 0 is 0, not NaN.
    """
    delta = post_xy - pre_xy
    if period is not None:
        delta = periodic(delta, jnp.asarray(period, delta.dtype))
    squared = jnp.sum(delta**2, axis=-1)
    positive = squared > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def delays_from_positions(
    conn: Connectivity,
    pre_positions,
    post_positions,
    *,
    velocity,
    dt: float,
    max_delay: int,
    offset=None,
    period=None,
) -> SynapseVar:
    """Delays ``[n_pre, max_row]`` [steps] ``= (offset + distance / velocity) / dt``.

    Args:
        conn: the connectivity.
        pre_positions, post_positions, period: as :func:`synapse_distances`.
        velocity: conduction velocity [length unit / ms], > 0 (scalar).
        dt: the time step [ms].
        max_delay: the buffer's bound [steps]; a longer delay is an error.
        offset: the delay at distance 0 [ms]; default ``dt`` (one step, the
            shortest delay).

    Returns:
        Float delays in ``[1, max_delay]`` on real slots, 0 in padding;
        differentiable w.r.t. positions, velocity and offset. Round them
        (``jnp.round``) for exact integer delays.

    Raises:
        ValueError: ``velocity <= 0``, ``dt <= 0``, or a delay outside
            ``[1, max_delay]`` (under ``jit``: an ``eqx.error_if`` error).
    """
    if dt <= 0:
        raise ValueError(f"dt must be > 0 [ms], got {dt}")
    velocity = _positive(velocity, "velocity")
    offset = dt if offset is None else offset
    distance = synapse_distances(conn, pre_positions, post_positions, period=period)
    delays = jnp.where(conn.mask, (offset + distance / velocity) / dt, 0.0)
    hint = "; raise max_delay or the velocity, or bring the positions closer"
    return validate_delays(conn, delays, max_delay, hint=hint)


def position_delays(pre_positions, post_positions, *, velocity, dt: float, max_delay: int,
                    offset=None, period=None, name: str = "delay"):  # fmt: skip
    """A ``new_synapse`` function for the rules: a new synapse's delay from its distance.

    The delay is :func:`delays_from_positions`'s, for each new pair; one
    longer than ``max_delay`` is an ``eqx.error_if`` error, never clipped.

    Returns:
        ``(key, pre, post) -> {name: delays[k]}`` (float [steps]).
    """
    if dt <= 0:
        raise ValueError(f"dt must be > 0 [ms], got {dt}")
    velocity = _positive(velocity, "velocity")
    offset = dt if offset is None else offset
    pre_xy, post_xy = jnp.asarray(pre_positions), jnp.asarray(post_positions)

    def draw(key, pre, post):
        del key
        distance = pair_distance(pre_xy[pre], post_xy[post], period)
        delays = (offset + distance / velocity) / dt
        message = f"a new synapse's delay exceeds max_delay={max_delay}"
        return {name: eqx.error_if(delays, jnp.any(delays > max_delay), message)}

    return draw


def _positive(x, name: str):
    x = jnp.asarray(x)
    if isinstance(x, jax.core.Tracer):
        return eqx.error_if(x, jnp.any(x <= 0), f"{name} must be > 0")
    if jnp.any(x <= 0):
        raise ValueError(f"{name} must be > 0, got {x}")
    return x
