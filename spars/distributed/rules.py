"""The rewiring rules on a row-sharded projection, per device (inside ``shard_map``).

Each is the rule of :mod:`spars.rules` of the same name, with the same
arguments plus the mesh ``axis``, and gives the same result as that rule on
the projection in one piece when every device passes the same ``key``:

* removal by a per-synapse test (DEEP R's ``theta < 0``) is local; the
  removed count is summed over the devices (``psum``), so DEEP R regrows
  exactly as many synapses over all rows as it removed from all rows and
  its synapse total stays constant;
* removal of the globally weakest synapses (SET, RigL, pruning) is a
  radix select (:func:`spars.distributed.select.smallest`);
* regrowth draws the one-device candidate pairs from the shared key
  (:mod:`spars.distributed._regrow`) and places them with
  :func:`spars.distributed.structure.add_pairs`.

Arguments indexed by presynaptic neuron (``pre_sign``) and functions of
``(pre, post)`` (``grad_score``, ``new_synapse``) see *global* ids and are
whole on every device; a dense ``[n_pre, n_post]`` gradient is split by rows
like the projection. Use :func:`spars.distributed.row_sharded` to call them
on global arrays.
"""

import math

import jax
import jax.numpy as jnp

from .._checks import fraction
from .._grid import squared_distance
from .._rows import rank_in_group, repeats
from ..connectivity import Connectivity
from ..rules._common import new_synapse_values, random_targets, weight_of
from ..rules.deep_r_rigl import _growth
from ..rules.topographic import TopographicEvents
from ..structure import RewireStats
from ._local import from_owner, row_offset, to_local
from ._regrow import at_pairs, dense_candidates, regrow, remove_weakest, sample_free_pairs
from .structure import add_pairs, in_degree, n_pre, n_synapses, remove, remove_listed


def deep_r(key, conn: Connectivity, variables: dict, *, axis: str, sign_probability=0.5,
           autapses=True, n_candidates=None, max_rounds=32, new_synapse=None,
           pre_sign=None):  # fmt: skip
    """:func:`spars.rules.deep_r` on this device's rows; ``pre_sign`` ``[n_pre]`` whole."""
    pre_sign = _pre_sign(conn, pre_sign, axis)
    _need(variables, ("theta", "sign"))
    conn, variables, removed = remove(conn, variables["theta"] >= 0, variables, axis=axis)

    def new_values(key, pre, post):
        key_sign, key_new = jax.random.split(key)
        sign = jnp.where(jax.random.bernoulli(key_sign, sign_probability, pre.shape), 1.0, -1.0)
        own = {"theta": 0.0, "sign": sign if pre_sign is None else pre_sign[pre]}
        return new_synapse_values(variables, own, new_synapse, key_new, pre, post)

    return regrow(key, conn, variables, removed, new_values, n_candidates=n_candidates,
                  max_rounds=max_rounds, autapses=autapses, axis=axis)  # fmt: skip


def set_rewire(key, conn: Connectivity, variables, *, axis: str, zeta=0.3, new_weight=0.0,
               autapses=True, n_candidates=None, max_rounds=32, new_synapse=None):  # fmt: skip
    """:func:`spars.rules.set_rewire` on this device's rows."""
    zeta = fraction("zeta", zeta)
    n_drop = jnp.floor(zeta * n_synapses(conn, axis)).astype(jnp.int32)
    conn, variables, removed = remove_weakest(conn, variables, n_drop, axis)

    def new_values(key, pre, post):
        key_weight, key_new = jax.random.split(key)
        value = new_weight(key_weight, pre.shape) if callable(new_weight) else new_weight
        return new_synapse_values(variables, {"weight": value}, new_synapse, key_new, pre, post)

    return regrow(key, conn, variables, removed, new_values, n_candidates=n_candidates,
                  max_rounds=max_rounds, autapses=autapses, axis=axis)  # fmt: skip


def magnitude_prune(key, conn: Connectivity, variables, *, axis: str, sparsity):
    """:func:`spars.rules.magnitude_prune` on this device's rows (sparsity of the whole)."""
    del key
    sparsity = fraction("sparsity", sparsity)
    total = n_pre(conn, axis) * conn.n_post
    n_keep = jnp.floor((1.0 - sparsity) * total + 1e-6).astype(jnp.int32)
    n_drop = jnp.maximum(n_synapses(conn, axis) - n_keep, 0)
    conn, variables, removed = remove_weakest(conn, variables, n_drop, axis)
    zero = jnp.zeros((), jnp.int32)
    return conn, variables, RewireStats(removed, zero, zero)


def rigl(key, conn: Connectivity, variables, grad_score, *, axis: str, zeta=0.3, autapses=True,
         n_candidates=None, new_synapse=None):  # fmt: skip
    """:func:`spars.rules.rigl`; a dense ``grad_score`` is this device's ``[n_local, n_post]``."""
    zeta = fraction("zeta", zeta)
    grad_score = grad_score if callable(grad_score) else _local_dense(conn, grad_score, axis)
    total = n_pre(conn, axis)
    if total == 0 or conn.max_row == 0:
        zero = jnp.zeros((), jnp.int32)
        return conn, variables, RewireStats(zero, zero, zero)
    n_drop = jnp.floor(zeta * n_synapses(conn, axis)).astype(jnp.int32)
    conn, variables, removed = remove_weakest(conn, variables, n_drop, axis)
    bound = max(1, math.ceil(zeta * total * conn.max_row))
    if callable(grad_score):
        k = n_candidates or 4 * bound
        pre, post, room = sample_free_pairs(key, conn, k, axis, autapses)
        best = jnp.argsort(-grad_score(pre, post))
        pre, post, valid = pre[best], post[best], jnp.broadcast_to(room, (k,))
    else:
        score = jnp.abs(grad_score)
        pre, post, valid = dense_candidates(conn, score, bound, autapses, axis)
    key_new = None if new_synapse is None else jax.random.fold_in(key, 1)
    new_values = new_synapse_values(variables, {"weight": 0.0}, new_synapse, key_new, pre, post)
    conn, variables, stats = add_pairs(conn, pre, post, variables, new_values, valid=valid,
                                       limit=removed, axis=axis)  # fmt: skip
    return conn, variables, RewireStats(removed, stats.added, removed - stats.added)


def deep_r_rigl(key, conn: Connectivity, variables: dict, grad, *, axis: str, pre_sign=None,
                autapses=True, n_candidates=None, new_synapse=None):  # fmt: skip
    """:func:`spars.rules.deep_r_rigl`; a dense ``grad`` is this device's rows."""
    _need(variables, ("theta", "sign"))
    pre_sign = _pre_sign(conn, pre_sign, axis)
    grad = grad if callable(grad) else _local_dense(conn, grad, axis)
    conn, variables, removed = remove(conn, variables["theta"] >= 0, variables, axis=axis)
    bound = max(1, n_pre(conn, axis) * conn.max_row)
    if callable(grad):
        pre, post, room = sample_free_pairs(key, conn, n_candidates or 4 * bound, axis, autapses)
        g = grad(pre, post)
        order = jnp.argsort(-_growth(g, pre, pre_sign))
        pre, post, g = pre[order], post[order], g[order]
        valid = jnp.broadcast_to(room, pre.shape)
    else:
        dense = grad
        rows = jnp.arange(conn.n_pre)[:, None] + row_offset(conn.n_pre, axis)
        score = _growth(dense, rows, pre_sign)
        pre, post, valid = dense_candidates(conn, score, bound, autapses, axis)
        g = at_pairs(dense, pre, post, axis)
    sign = -jnp.where(g > 0, 1.0, -1.0) if pre_sign is None else pre_sign[pre]
    key_new = None if new_synapse is None else jax.random.fold_in(key, 1)
    values = new_synapse_values(variables, {"theta": 0.0, "sign": sign}, new_synapse, key_new,
                                pre, post)  # fmt: skip
    conn, variables, stats = add_pairs(conn, pre, post, variables, values, valid=valid,
                                       limit=removed, axis=axis)  # fmt: skip
    return conn, variables, RewireStats(removed, stats.added, removed - stats.added)


def topographic(key, conn: Connectivity, variables, *, axis: str, pre_shape, post_shape,
                n_candidates: int, p_form, sigma, p_elim_dep, p_elim_pot, threshold, new_weight,
                max_in_degree=None, autapses=True, return_events=False,
                new_synapse=None):  # fmt: skip
    """:func:`spars.rules.topographic` on this device's rows (candidates drawn over all rows)."""
    total = n_pre(conn, axis)
    if (total, conn.n_post) != (pre_shape[0] * pre_shape[1], post_shape[0] * post_shape[1]):
        raise ValueError(f"grids {pre_shape} -> {post_shape} do not match {(total, conn.n_post)}")
    key_pre, key_post, key_elim, key_form, key_new = jax.random.split(key, 5)
    pre = jax.random.randint(key_pre, (n_candidates,), 0, max(total, 1), dtype=jnp.int32)
    post = random_targets(key_post, pre, conn.n_post, autapses)
    if total == 0 or conn.n_post == 0:
        zero, none = jnp.zeros((), jnp.int32), jnp.zeros(pre.shape, bool)
        stats, events = RewireStats(zero, zero, zero), (pre, post, none, none)
        return (conn, variables, stats, _events(*events)) if return_events else (
            conn, variables, stats)
    first = ~repeats(pre, post)
    present, slot, weight = _lookup(conn, weight_of(variables), pre, post, axis)
    weak = weight < threshold
    p_elim = jnp.where(weak, p_elim_dep, p_elim_pot)
    eliminate = first & present & (jax.random.uniform(key_elim, pre.shape) < p_elim)
    conn, variables, removed = remove_listed(conn, pre, slot, variables, valid=eliminate,
                                             axis=axis)  # fmt: skip
    d2 = squared_distance(pre, post, pre_shape, post_shape)
    p = p_form * jnp.exp(-d2 / (2.0 * sigma**2))
    form = first & ~present & (jax.random.uniform(key_form, pre.shape) < p)
    if max_in_degree is not None:
        queue = rank_in_group(jnp.where(form, post, conn.n_post), form)
        form = form & (in_degree(conn, axis)[post] + queue < max_in_degree)
    new_values = new_synapse_values(variables, {"weight": new_weight}, new_synapse, key_new,
                                    pre, post)  # fmt: skip
    conn, variables, stats = add_pairs(conn, pre, post, variables, new_values, valid=form,
                                       axis=axis)  # fmt: skip
    rewire_stats = RewireStats(removed, stats.added, stats.overflow)
    if not return_events:
        return conn, variables, rewire_stats
    formed = form & _lookup(conn, weight_of(variables), pre, post, axis)[0]
    return conn, variables, rewire_stats, _events(pre, post, eliminate, formed)


def _events(pre, post, eliminated, formed):
    return TopographicEvents(pre, post, eliminated, formed)


def _lookup(conn: Connectivity, weights, pre, post, axis: str):
    """``(present, slot, weight)`` of global pairs, read by their row's device, on every device."""
    local, owned = to_local(pre, conn.n_pre, axis)
    row = jnp.clip(local, 0, conn.n_pre - 1)
    match = conn.indices[row] == post[:, None]
    if conn.max_row == 0:
        none = jnp.zeros(pre.shape, bool)
        return none, jnp.zeros(pre.shape, jnp.int32), jnp.zeros(pre.shape, weights.dtype)
    slot = jnp.argmax(match, axis=1).astype(jnp.int32)
    present = from_owner(jnp.any(match, axis=1), owned, axis)
    return present, from_owner(slot, owned, axis), from_owner(weights[row, slot], owned, axis)


def _local_dense(conn: Connectivity, grad, axis: str):
    grad = jnp.asarray(grad)
    if grad.shape != (conn.n_pre, conn.n_post):
        whole = (n_pre(conn, axis), conn.n_post)
        local = (conn.n_pre, conn.n_post)
        raise ValueError(f"the dense gradient must be [n_pre, n_post]={whole} (each device's "
                         f"rows {local}); this device has {grad.shape}")  # fmt: skip
    return grad


def _pre_sign(conn: Connectivity, pre_sign, axis: str):
    if pre_sign is None:
        return None
    total = n_pre(conn, axis)
    if jnp.shape(pre_sign) != (total,):
        raise ValueError(f"pre_sign must have shape [n_pre]=({total},) (every neuron, on every "
                         f"device), got {jnp.shape(pre_sign)}")  # fmt: skip
    return jnp.asarray(pre_sign, jnp.float32)


def _need(variables, names):
    for name in names:
        if name not in variables:
            raise ValueError(f"DEEP R variables need a {name!r} entry, got {sorted(variables)}")
