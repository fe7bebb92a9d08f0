"""Training with rewiring: an optax optimizer whose state moves with the synapses.

A rule moves synapses between slots; every per-synapse array that belongs to
a synapse must move with it, and that includes the optimizer's state (Adam's
moments of a removed synapse must not be inherited by the new synapse that
lands in its slot). :func:`rewiring` wraps an optimizer and a rule so that
the parameters, the untrained per-synapse variables (DEEP R's signs, ages,
fixed delays) and every copy of the parameters inside the optimizer state
(found by :func:`optax.tree_map_params`, by position in the parameter tree,
never by shape) move together::

    train = rules.rewiring(optax.adam(1e-3), rules.deep_r, variable="theta")
    state = train.init(params, {"rec": conn}, fixed={"rec": {"sign": sign}})
    state, stats = train.update(key, grads, state)   # an Adam step, then DEEP R

``params`` is a dict: the entry of a rewired projection (a key of ``conns``)
is its ``[n_pre, max_row]`` trainable array (the rule's ``variable``) or a
dict of such arrays (e.g. ``{"theta": ..., "delay": ...}``); other entries
(a dense readout, biases) are trained and left alone by the rule.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..connectivity import Connectivity

OPTIMIZER = "optimizer"  # the rule's variables entry holding the optimizer leaves


class RewiringState(NamedTuple):
    """What :func:`rewiring` trains and rewires.

    Attributes:
        params: the trainable PyTree (a dict; see the module docstring).
        conns: ``name -> Connectivity`` of every rewired projection.
        fixed: ``name -> {variable: [n_pre, max_row]}`` untrained per-synapse arrays.
        opt_state: the wrapped optimizer's state.
        count: int32 scalar, optimizer steps taken.
    """

    params: Any
    conns: dict
    fixed: dict
    opt_state: Any
    count: jax.Array


class Rewiring(NamedTuple):
    """``init``, ``update`` (an optimizer step, then the rule every ``every`` steps), ``rewire``."""

    init: Callable
    update: Callable
    rewire: Callable


def rewiring(
    optimizer: optax.GradientTransformation,
    rule: Callable,
    *,
    every: int = 1,
    variable: str = "weight",
    rule_kwargs: dict | None = None,
) -> Rewiring:
    """Wraps ``optimizer`` and ``rule`` so that optimizer state moves with its synapses.

    Args:
        optimizer: any optax transformation. Extra-argument transformations
            (:func:`deep_r_l1`, :func:`deep_r_noise`) receive ``slot_mask``:
            each rewired projection's ``conn.mask``, ``False`` elsewhere.
        rule: ``rule(key, conn, variables, **kwargs) -> (conn, variables, stats)``,
            any rule of :mod:`spars.rules` (bind options with ``functools.partial``).
        every: rewire after every ``every``-th optimizer step (>= 1).
        variable: the rule's name for a projection's trainable array
            (``"theta"`` for DEEP R, ``"weight"`` for SET, RigL, pruning).
        rule_kwargs: ``name -> dict`` of further keyword arguments per
            projection, e.g. ``{"rec": {"autapses": False}}``.

    Returns:
        A :class:`Rewiring`: ``init(params, conns, fixed=None) -> RewiringState``;
        ``update(key, grads, state, **extra) -> (state, stats)``, where
        ``stats`` maps each projection to the rule's stats (zeros on steps
        without rewiring) and ``extra`` goes to the rule as keyword arguments
        per projection (``name -> dict``, e.g. RigL's ``grad_score``); and
        ``rewire(key, state, **extra) -> (state, stats)`` alone.
    """
    if not (isinstance(every, int) and every >= 1):
        raise ValueError(f"every must be an int >= 1, got {every!r}")
    opt = optax.with_extra_args_support(optimizer)
    options = dict(rule_kwargs or {})

    def init(params, conns: dict, fixed: dict | None = None) -> RewiringState:
        fixed = {name: dict(v) for name, v in (fixed or {}).items()}
        _check(params, conns, fixed, variable)
        return RewiringState(params, dict(conns), fixed, opt.init(params), jnp.zeros((), jnp.int32))

    def rewire(key, state: RewiringState, **extra):
        names = sorted(state.conns)
        labels = {n: jax.tree.map(lambda _, n=n: n, p) for n, p in state.params.items()}
        conns, params, fixed = dict(state.conns), dict(state.params), dict(state.fixed)
        opt_state, stats = state.opt_state, {}
        for name, k in zip(names, jax.random.split(key, len(names)), strict=True):
            moments = _optimizer_leaves(optimizer, opt_state, labels, name, conns[name])
            variables = {**_as_dict(params[name], variable), **fixed.get(name, {})}
            variables[OPTIMIZER] = moments
            kwargs = {**options.get(name, {}), **extra.get(name, {})}
            conns[name], variables, stats[name] = rule(k, conns[name], variables, **kwargs)
            opt_state = _put_optimizer_leaves(optimizer, opt_state, labels, name,
                                              variables.pop(OPTIMIZER))  # fmt: skip
            params[name] = _from_dict(params[name], variables, variable)
            fixed[name] = {v: variables[v] for v in fixed.get(name, {})}
        return state._replace(params=params, conns=conns, fixed=fixed, opt_state=opt_state), stats

    def update(key, grads, state: RewiringState, **extra):
        masks = _slot_masks(state.params, state.conns)
        updates, opt_state = opt.update(grads, state.opt_state, state.params, slot_mask=masks)
        params = optax.apply_updates(state.params, updates)
        params = jax.tree.map(lambda p, m: jnp.where(m, p, 0) if m is not False else p,
                              params, masks)  # fmt: skip
        state = state._replace(params=params, opt_state=opt_state, count=state.count + 1)
        if every == 1:
            return rewire(key, state, **extra)
        stats_shape = jax.eval_shape(lambda s: rewire(key, s, **extra)[1], state)
        skip = (state, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), stats_shape))
        return jax.lax.cond(state.count % every == 0,
                            lambda: rewire(key, state, **extra), lambda: skip)  # fmt: skip

    return Rewiring(init, update, rewire)


def _check(params, conns: dict, fixed: dict, variable: str) -> None:
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict with an entry per rewired projection, got "
                         f"{type(params).__name__}")  # fmt: skip
    for name, conn in conns.items():
        if not isinstance(conn, Connectivity):
            raise ValueError(f"conns[{name!r}] must be a Connectivity, got {type(conn).__name__}")
        if name not in params:
            raise ValueError(f"params has no entry for the rewired projection {name!r} "
                             f"(entries: {sorted(params)})")  # fmt: skip
        entries = {**_as_dict(params[name], variable), **fixed.get(name, {})}
        if variable not in entries:
            raise ValueError(f"projection {name!r} has no {variable!r} among its params or "
                             f"fixed variables ({sorted(entries)}): the rule needs it")  # fmt: skip
        for what, x in entries.items():
            if jnp.shape(x) != conn.indices.shape:
                raise ValueError(f"{name!r} variable {what!r} has shape {jnp.shape(x)}; "
                                 f"its [n_pre, max_row] is {conn.indices.shape}")  # fmt: skip
    unknown = sorted(set(fixed) - set(conns))
    if unknown:
        raise ValueError(f"fixed has entries {unknown} that are not rewired projections")


def _as_dict(entry, variable: str) -> dict:
    return dict(entry) if isinstance(entry, dict) else {variable: entry}


def _from_dict(entry, variables: dict, variable: str):
    if isinstance(entry, dict):
        return {k: variables[k] for k in entry}
    return variables[variable]


def _slot_masks(params: dict, conns: dict) -> dict:
    """``conn.mask`` on every leaf of a rewired projection, ``False`` on the rest."""
    return {n: jax.tree.map(lambda _, n=n: conns[n].mask if n in conns else False, p)
            for n, p in params.items()}  # fmt: skip


def _optimizer_leaves(optimizer, opt_state, labels, name: str, conn: Connectivity) -> list:
    """Every copy of projection ``name``'s parameters inside ``opt_state``, in tree order."""
    found = []

    def collect(leaf, label):
        if label == name and isinstance(leaf, jax.Array | jnp.ndarray):
            if leaf.shape != conn.indices.shape:
                raise ValueError(
                    f"the optimizer keeps a {leaf.shape} array for {name!r}, whose synapses "
                    f"are {conn.indices.shape}: only per-parameter state can move with them"
                )
            found.append(leaf)
        return leaf

    optax.tree_map_params(optimizer, collect, opt_state, labels, is_leaf=_masked)
    return found


def _put_optimizer_leaves(optimizer, opt_state, labels, name: str, leaves: list):
    new = iter(leaves)

    def put(leaf, label):
        if label == name and isinstance(leaf, jax.Array | jnp.ndarray):
            return next(new)
        return leaf

    return optax.tree_map_params(optimizer, put, opt_state, labels, is_leaf=_masked)


def _masked(x) -> bool:
    """``optax.masked`` / ``multi_transform`` hold ``MaskedNode`` where a group has no leaf."""
    return isinstance(x, optax.MaskedNode)
