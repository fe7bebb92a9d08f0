"""DEEP R (Bellec, Kappel, Maass & Legenstein 2018, "Deep rewiring").

Each synapse has a fixed sign and a parameter ``theta >= 0``; its weight is
``sign * theta``. The parameter step is

    theta <- theta - eta * dE/dtheta - eta * alpha + sqrt(2 * eta * T) * N(0, 1)

(:func:`deep_r_noise` adds the last two terms to any optax optimizer's step),
and :func:`deep_r` then removes the synapses whose ``theta`` fell below 0 and
activates as many random unconnected pairs, at ``theta = 0`` with a random
sign, so the synapse count stays constant. ``T = 0`` is the noise-free
variant that mlGeNN implements.

Variables are a dict with ``"theta"`` and ``"sign"`` (float ``[n_pre, max_row]``)
and any other entries (traces, optimizer moments), which move with their
synapses and start at 0 on new ones.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..connectivity import Connectivity
from ..structure import remove
from ._common import check_pre_sign, new_synapse_values, regrow


def deep_r_init(key, conn: Connectivity, weights, pre_sign=None) -> dict:
    """DEEP R variables from signed weights: ``theta = |w|``, ``sign = sign(w)``.

    Real synapses of weight exactly 0 get a random sign; padding is 0. With
    ``pre_sign`` (Dale's law: ``+1`` excitatory, ``-1`` inhibitory per
    presynaptic neuron, ``[n_pre]``) every synapse takes its neuron's sign
    and ``theta = |w|``.

    Returns:
        ``{"theta": float[n_pre, max_row], "sign": float[n_pre, max_row]}``.
    """
    weights = jnp.asarray(weights)
    coin = jnp.where(jax.random.bernoulli(key, 0.5, weights.shape), 1.0, -1.0)
    sign = jnp.where(weights > 0, 1.0, jnp.where(weights < 0, -1.0, coin))
    if pre_sign is not None:
        sign = jnp.broadcast_to(check_pre_sign(conn, pre_sign)[:, None], weights.shape)
    mask = conn.mask
    return {
        "theta": jnp.where(mask, jnp.abs(weights), 0.0).astype(weights.dtype),
        "sign": jnp.where(mask, sign, 0.0).astype(weights.dtype),
    }


def deep_r_weights(variables: dict):
    """Effective weights ``sign * max(theta, 0)``: dormant synapses weigh 0.

    The derivative w.r.t. ``theta`` is ``sign`` wherever ``theta >= 0``, new
    synapses at exactly ``theta = 0`` included (``jnp.maximum`` would give
    them half), and 0 on dormant ones.
    """
    theta = variables["theta"]
    return variables["sign"] * jnp.where(theta >= 0, theta, 0.0)


def deep_r(
    key,
    conn: Connectivity,
    variables: dict,
    *,
    sign_probability: float = 0.5,
    autapses: bool = True,
    n_candidates: int | None = None,
    max_rounds: int = 32,
    new_synapse=None,
    pre_sign=None,
):
    """One DEEP R rewiring step: dormant synapses out, as many random ones in.

    Args:
        key: PRNG key.
        conn: the connectivity.
        variables: dict with ``"theta"`` and ``"sign"`` (see module docstring).
        sign_probability: probability that a new synapse is excitatory (+1).
        autapses: whether new synapses may join a neuron to itself
            (square projections only when False).
        n_candidates: random pairs drawn per placement round (static);
            default 1/128 of the slots, at least 128.
        max_rounds: the most placement rounds; what is still unplaced after
            them (or when no row has room) is reported as ``failed``.
        new_synapse: ``(key, pre, post) -> dict`` of values for new synapses'
            other variables (``pre``, ``post`` int32 ``[k]``), e.g. a delay
            from :func:`spars.delays.random_delays`; default 0.
        pre_sign: Dale's law, ``[n_pre]`` of ``+1`` / ``-1``: a new synapse
            takes its presynaptic neuron's sign (``sign_probability`` unused).

    Returns:
        ``(conn, variables, RewireStats)``.
    """
    pre_sign = None if pre_sign is None else check_pre_sign(conn, pre_sign)
    for name in ("theta", "sign"):
        if name not in variables:
            raise ValueError(f"DEEP R variables need a {name!r} entry, got {sorted(variables)}")
    conn, variables, removed = remove(conn, variables["theta"] >= 0, variables)

    def new_values(key, pre, post):
        key_sign, key_new = jax.random.split(key)
        sign = jnp.where(jax.random.bernoulli(key_sign, sign_probability, pre.shape), 1.0, -1.0)
        own = {"theta": 0.0, "sign": sign if pre_sign is None else pre_sign[pre]}
        return new_synapse_values(variables, own, new_synapse, key_new, pre, post)

    return regrow(
        key,
        conn,
        variables,
        removed,
        new_values,
        n_candidates=n_candidates,
        max_rounds=max_rounds,
        autapses=autapses,
    )


class DeepRNoiseState(NamedTuple):
    """State of :func:`deep_r_noise`: the PRNG key of the next step."""

    key: jax.Array


def deep_r_noise(
    learning_rate, l1: float, temperature: float, key
) -> optax.GradientTransformationExtraArgs:
    """The L1 and noise terms of the DEEP R parameter step, as an optax transformation.

    Adds ``-learning_rate * l1 + sqrt(2 * learning_rate * temperature) * N(0, 1)``
    to each update; chain it after any optimizer, e.g.
    ``optax.chain(optax.adam(1e-3), deep_r_noise(1e-3, l1, T, key))``.

    ``update`` takes an optional extra argument ``slot_mask``: a PyTree like
    the updates whose leaves are ``bool`` arrays (the real slots, e.g.
    ``conn.mask``), ``True`` (every entry) or ``False`` (leave the leaf alone,
    e.g. a dense readout). Without it every entry of every leaf is changed,
    padding included (:func:`deep_r` zeroes padding again).

    Args:
        learning_rate: ``eta`` [same units as the optimizer's step].
        l1: ``alpha``, the L1 strength.
        temperature: ``T``; 0 for the noise-free variant.
        key: PRNG key of the noise.
    """
    scale = jnp.sqrt(2.0 * learning_rate * temperature)

    def init(params):
        del params
        return DeepRNoiseState(key)

    def update(updates, state, params=None, *, slot_mask=None, **extra):
        del params, extra
        key, sub = jax.random.split(state.key)

        def step(leaf, leaf_key):
            noise = scale * jax.random.normal(leaf_key, jnp.shape(leaf), jnp.result_type(leaf))
            return noise - learning_rate * l1

        return _add_on_slots(updates, slot_mask, step, sub), DeepRNoiseState(key)

    return optax.GradientTransformationExtraArgs(init, update)


def deep_r_l1(strength: float) -> optax.GradientTransformationExtraArgs:
    """DEEP R's L1 penalty as a gradient term, applied before the optimizer.

    Adds ``strength`` (the derivative of ``strength * |theta|`` for ``theta >=
    0``) to the gradient of every real synapse, as mlGeNN does, so an adaptive
    optimizer sees it; e.g. ``optax.chain(deep_r_l1(0.01), optax.adam(1e-3))``.
    Takes the same optional ``slot_mask`` extra argument as :func:`deep_r_noise`.
    """

    def update(updates, state, params=None, *, slot_mask=None, **extra):
        del params, extra
        return _add_on_slots(updates, slot_mask, lambda *_: strength, None), state

    return optax.GradientTransformationExtraArgs(lambda _: optax.EmptyState(), update)


def _add_on_slots(updates, slot_mask, step, key):
    """``leaf + step(leaf, key_i)`` where ``slot_mask`` (per leaf) is True."""
    leaves, treedef = jax.tree.flatten(updates)
    masks = [True] * len(leaves) if slot_mask is None else treedef.flatten_up_to(slot_mask)
    keys = [None] * len(leaves) if key is None else jax.random.split(key, max(len(leaves), 1))
    new = [
        leaf + jnp.where(jnp.asarray(mask, bool), step(leaf, k), 0.0)
        for leaf, mask, k in zip(leaves, masks, keys, strict=False)
    ]
    return jax.tree.unflatten(treedef, new)
