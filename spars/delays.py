"""Per-synapse delays: a ring buffer of postsynaptic input and delayed propagation.

Convention (NEST's): delays are in steps of ``dt``; a spike emitted at step
``t`` reaches a synapse of delay ``d`` at step ``t + d``, ``1 <= d <=
max_delay``. ``d = 1`` is :func:`spars.propagate`'s one-step delay. Delays
are a ``[n_pre, max_row]`` per-synapse variable beside the weights (0 in
padding), so every structural primitive moves them with their synapses.

Each step, :func:`propagate_delayed` adds the spikes of the step that just
ended into a :class:`DelayBuffer` and :meth:`DelayBuffer.pop` returns the
input that arrives in the coming step::

    buffer = propagate_delayed(conn, weights, delays, spikes, buffer)
    current, buffer = buffer.pop()

Real-valued delays are learnable: a synapse's input is split between its two
neighbouring integer delays (linear interpolation), which makes the input a
piecewise-linear function of ``d`` with a gradient ``jax.grad`` can follow.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from . import _ring
from ._custom_types import Spikes, SynapseVar
from .connectivity import Connectivity
from .kernels import delayed as KD
from .kernels._events import Events, default_event_capacity


class DelayBuffer(eqx.Module):
    """The postsynaptic input still in flight: a ring of ``max_delay`` steps.

    Attributes:
        values: ``[*batch, max_delay * n_post]``, slot-major: slot ``(now +
            k) mod max_delay`` (see :attr:`slots`) arrives ``k`` steps after
            the next one.
        now: int32 scalar, the slot that the next :meth:`pop` returns.
        max_delay: the number of slots (static).

    The ring is stored flat: a ``[*batch, max_delay, n_post]`` carry made
    XLA:CPU copy it whole on every step of a ``lax.scan``.
    """

    values: Float[Array, "*batch slots_x_post"]
    now: Int[Array, ""] = eqx.field(converter=lambda x: jnp.asarray(x, jnp.int32))
    max_delay: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if not isinstance(self.max_delay, int) or self.max_delay < 1:
            raise ValueError(f"max_delay must be an int >= 1 [steps], got {self.max_delay!r}")
        if self.values.ndim < 1 or self.values.shape[-1] % self.max_delay:
            raise ValueError(f"values shape {self.values.shape} must end in max_delay * n_post "
                             f"(max_delay={self.max_delay})")  # fmt: skip

    @property
    def n_post(self) -> int:
        return self.values.shape[-1] // self.max_delay

    @property
    def slots(self) -> Float[Array, "*batch max_delay post"]:
        """The ring as ``[*batch, max_delay, n_post]`` (slot ``now`` arrives next)."""
        return self.values.reshape(*self.values.shape[:-1], self.max_delay, self.n_post)

    def pop(self) -> tuple[Float[Array, "*batch post"], "DelayBuffer"]:
        """``(input of the coming step [*batch, n_post], buffer one step later)``."""
        current, values = _ring.pop(self.values, self.now, self.max_delay)
        now = (self.now + 1) % self.max_delay
        return current, DelayBuffer(values, now, self.max_delay)


def delay_buffer(max_delay: int, n_post: int, batch_shape: tuple[int, ...] = (),
                 dtype=jnp.float32) -> DelayBuffer:  # fmt: skip
    """An empty buffer: nothing in flight."""
    if not isinstance(max_delay, int) or max_delay < 1:
        raise ValueError(f"max_delay must be an int >= 1 [steps], got {max_delay!r}")
    return DelayBuffer(jnp.zeros((*batch_shape, max_delay * n_post), dtype), 0, max_delay)


def propagate_delayed(
    conn: Connectivity,
    weights: SynapseVar,
    delays: SynapseVar,
    spikes: Spikes,
    buffer: DelayBuffer,
    *,
    event_capacity: int | None = None,
    events: Events | None = None,
) -> DelayBuffer:
    """Adds ``spikes [..., n_pre]`` into ``buffer``, each synapse at its delay.

    Args:
        conn: the projection's connectivity.
        weights: ``[n_pre, max_row]`` weights (zero in padding).
        delays: ``[n_pre, max_row]`` delays [steps] in ``[1, max_delay]``:
            int (exact) or float (split between the two neighbouring steps,
            differentiable). Checked here on concrete values; under ``jit``
            use :func:`validate_delays` once per run.
        spikes: ``[..., n_pre]`` spikes of the step that just ended.
        buffer: a :class:`DelayBuffer` for ``n_post`` with the same batch.
        event_capacity, events: as :func:`spars.propagate`.

    Returns:
        The buffer with the new input added (``now`` unchanged).

    Work grows with events x row length (never with ``max_delay``); float
    delays scatter twice as many elements. Differentiable w.r.t. ``weights``,
    float ``delays``, ``spikes`` and the buffer (a custom VJP). On CUDA the
    forward pass is a Pallas kernel, the backward pass XLA; on CPU both are
    compiled loops that update the buffer in place.
    """
    weights, delays, flat, ring, batch = _flatten(conn, weights, delays, spikes, buffer)
    if flat.size == 0 or conn.max_row == 0:
        return buffer
    _check_concrete(conn, delays, buffer.max_delay)
    if events is None:
        capacity, listed = event_capacity or default_event_capacity(flat.size), None
    else:
        events.check(flat.size, f"spikes {jnp.shape(spikes)}")
        capacity, listed = events.capacity, (events.ids, events.count)
    out = _ring.push(capacity, buffer.max_delay, conn.row_length, conn.indices, weights, delays,
                     flat, ring, buffer.now, listed)
    return DelayBuffer(out.astype(buffer.values.dtype), buffer.now, buffer.max_delay)


def propagate_delayed_reference(conn, weights, delays, spikes, buffer) -> DelayBuffer:
    """Pure-jnp twin of :func:`propagate_delayed` that scatters every row (not event-driven)."""
    weights, delays, flat, ring, _ = _flatten(conn, weights, delays, spikes, buffer)
    n_batch, n_slots, n_post = flat.shape[0], buffer.max_delay, conn.n_post
    lo, frac = KD.split_delay(delays, n_slots)
    frac = jnp.zeros(weights.shape, weights.dtype) if frac is None else frac
    out = jnp.pad(ring.reshape(n_batch, -1), ((0, 0), (0, 1)))
    contrib = flat[:, :, None] * weights[None]
    for step, share in ((0, 1 - frac), (1, frac)):
        target = KD.ring_target(conn.indices, lo, buffer.now, n_slots, n_post, step)
        out = out.at[:, target].add(contrib * share[None])
    return DelayBuffer(out[:, :-1].reshape(buffer.values.shape), buffer.now, buffer.max_delay)


def validate_delays(conn: Connectivity, delays: SynapseVar, max_delay: int, *,
                    hint: str = "") -> SynapseVar:  # fmt: skip
    """Checks that real slots hold finite delays in ``[1, max_delay]`` and padding 0.

    Returns ``delays``; under ``jax.jit`` with an ``eqx.error_if`` runtime
    check attached (use the return value). ``hint`` ends the range error.

    Raises:
        ValueError: naming the first bad row and slot (concrete values).
    """
    delays = jnp.asarray(delays)
    if delays.shape != conn.indices.shape:
        raise ValueError(f"delays shape {delays.shape} must equal [n_pre, max_row]="
                         f"{conn.indices.shape}")  # fmt: skip
    bad, padding = _bad_slots(conn, delays, max_delay)
    if isinstance(bad, jax.core.Tracer) or isinstance(padding, jax.core.Tracer):
        message = f"delays outside [1, max_delay={max_delay}]{hint}"
        delays = eqx.error_if(delays, jnp.any(bad), message)
        return eqx.error_if(delays, jnp.any(padding), "delays: padding slots must hold 0")
    _raise_first(np.asarray(bad), delays, f"is outside [1, max_delay={max_delay}] [steps]{hint}")
    _raise_first(np.asarray(padding), delays, "is in a padding slot, which must hold 0")
    return delays


def random_delays(low: int | float, high: int | float, *, integer: bool = True,
                  name: str = "delay"):  # fmt: skip
    """A ``new_synapse`` function for the rules: new synapses draw a delay [steps].

    Args:
        low, high: the range, ``1 <= low <= high <= max_delay``.
        integer: uniform integers in ``[low, high]``; else uniform floats.
        name: the variables' entry that holds the delays.

    Returns:
        ``(key, pre, post) -> {name: delays[k]}`` for ``spars.rules.*(...,
        new_synapse=)``.
    """
    if not 1 <= low <= high:
        raise ValueError(f"delays need 1 <= low <= high [steps], got low={low}, high={high}")

    def draw(key, pre, post):
        del post
        if integer:
            return {name: jax.random.randint(key, pre.shape, int(low), int(high) + 1)}
        return {name: jax.random.uniform(key, pre.shape, minval=low, maxval=high)}

    return draw


def _bad_slots(conn, delays, max_delay):
    """``(bad real slots, non-zero padding)``; NumPy on concrete values (no compilation)."""
    xp = jnp if isinstance(delays, jax.core.Tracer) or isinstance(
        conn.row_length, jax.core.Tracer) else np  # fmt: skip
    delays, length = xp.asarray(delays), xp.asarray(conn.row_length)
    mask = xp.arange(delays.shape[1])[None, :] < length[:, None]
    out = ~xp.isfinite(delays) | (delays < 1) | (delays > max_delay)
    return mask & out, ~mask & (delays != 0)


def _raise_first(bad: np.ndarray, delays, what: str) -> None:
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ValueError(f"delays[{i}, {k}] = {np.asarray(delays)[i, k]} {what}")


def _check_concrete(conn, delays, max_delay):
    if not any(isinstance(x, jax.core.Tracer) for x in (delays, conn.row_length)):
        validate_delays(conn, delays, max_delay)


def _flatten(conn: Connectivity, weights, delays, spikes, buffer: DelayBuffer):
    weights, delays, spikes = jnp.asarray(weights), jnp.asarray(delays), jnp.asarray(spikes)
    for name, x in (("weights", weights), ("delays", delays)):
        if x.shape != conn.indices.shape:
            raise ValueError(f"{name} shape {x.shape} must equal the connectivity's "
                             f"[n_pre, max_row]={conn.indices.shape}")  # fmt: skip
    if not (
        jnp.issubdtype(delays.dtype, jnp.integer) or jnp.issubdtype(delays.dtype, jnp.floating)
    ):
        raise ValueError(f"delays must be int or float, got {delays.dtype}")
    if spikes.ndim < 1 or spikes.shape[-1] != conn.n_pre:
        raise ValueError(f"spikes shape {spikes.shape} must end in n_pre={conn.n_pre}")
    batch = spikes.shape[:-1]
    expected = (*batch, buffer.max_delay * conn.n_post)
    if buffer.values.shape != expected:
        raise ValueError(f"buffer shape {buffer.values.shape} must be [*batch, max_delay * "
                         f"n_post]={expected} for spikes {spikes.shape}")  # fmt: skip
    n = math.prod(batch)
    flat = spikes.reshape(n, conn.n_pre).astype(weights.dtype)
    return weights, delays, flat, buffer.values.astype(weights.dtype), batch
