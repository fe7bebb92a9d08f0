"""Every rule on a row-sharded projection equals the rule on one device, bit for bit."""

from functools import partial

import jax
import jax.numpy as jnp
import pytest

from spars import rules
from spars.distributed import row_sharded
from spars.distributed import rules as DR

from .conftest import row_meshes
from .helpers import assert_same, projection

N_PRE, N_POST = 32, 24
TOPOGRAPHIC = {"pre_shape": (4, 8), "post_shape": (4, 6), "n_candidates": 200, "p_form": 0.5,
               "sigma": 2.0, "p_elim_dep": 0.5, "p_elim_pot": 0.1, "threshold": 0.0,
               "new_weight": 0.25, "max_in_degree": 8, "return_events": True}  # fmt: skip


def _case():
    k_conn, k_init, k_act, k_grad = jax.random.split(jax.random.key(30), 4)
    conn, w = projection(k_conn, N_PRE, N_POST, p=0.3)
    deep = rules.deep_r_init(k_init, conn, w)
    deep["theta"] = jnp.where(conn.mask, deep["theta"] - 0.3, 0.0)  # some fall dormant
    activity = jax.random.normal(k_act, (5, N_PRE)), jax.random.normal(k_grad, (5, N_POST))
    dense = jax.random.normal(k_grad, (N_PRE, N_POST))
    sign = jnp.where(jnp.arange(N_PRE) % 3 == 0, -1.0, 1.0)
    return conn, w, deep, dense, activity, sign


def _all_rules(rule, key, conn, w, deep, dense, activity, sign, only=None):
    """Every rule once (``rule(one_device_rule, per_device_rule)`` picks the version), or the
    rules named in ``only``."""
    score = rules.outer_product_score(*activity)
    grad = rules.outer_product_grad(*activity)
    calls = {
        "deep_r": lambda: rule(rules.deep_r, DR.deep_r)(key, conn, deep),
        "deep_r_dale": lambda: rule(rules.deep_r, DR.deep_r)(key, conn, deep, pre_sign=sign,
                                                             autapses=False, n_candidates=16),
        "set": lambda: rule(rules.set_rewire, DR.set_rewire)(
            key, conn, {"weight": w}, zeta=0.3, new_weight=lambda k, s: jnp.ones(s)),
        "prune": lambda: rule(rules.magnitude_prune, DR.magnitude_prune)(key, conn, w,
                                                                         sparsity=0.85),
        "rigl_dense": lambda: rule(rules.rigl, DR.rigl)(key, conn, w, dense),
        "rigl_scores": lambda: rule(rules.rigl, DR.rigl)(key, conn, w, score),
        "deep_r_rigl": lambda: rule(rules.deep_r_rigl, DR.deep_r_rigl)(key, conn, deep, dense,
                                                                       pre_sign=sign),
        "deep_r_rigl_scores": lambda: rule(rules.deep_r_rigl, DR.deep_r_rigl)(
            key, conn, deep, grad, n_candidates=64),
        "topographic": lambda: rule(rules.topographic, DR.topographic)(key, conn, w,
                                                                       **TOPOGRAPHIC),
    }  # fmt: skip
    return {name: call() for name, call in calls.items() if only is None or name in only}


def test_every_rule_equals_one_device():
    case = _case()
    key = jax.random.key(31)
    want = jax.jit(partial(_all_rules, lambda one, per_device: one))(key, *case)
    for name, out in want.items():
        stats = out[2]
        assert int(stats.removed) > 0, name  # every rule has work to do
        if name != "prune":
            assert int(stats.added) > 0, name
    assert int(want["deep_r_rigl_scores"][2].failed) > 0  # too few candidates: reported
    for mesh in row_meshes():
        # one device runs a few rules (its collectives are trivial); 2 and 4 run every rule
        only = ("deep_r", "set", "topographic") if mesh.size == 1 else None
        sharded = partial(_all_rules, lambda one, per_device, m=mesh: row_sharded(per_device, m,
                                                                                   "rows"),
                          only=only)  # fmt: skip
        got = jax.jit(sharded)(key, *case)
        assert_same(got, {name: want[name] for name in got})


def test_bad_input_to_sharded_rules():
    conn, w = projection(jax.random.key(32), 10, 8, p=0.4)
    mesh = row_meshes()[-1]
    with pytest.raises(ValueError, match=r"n_pre .*\(10\) must be a multiple of the 4 devices"):
        row_sharded(DR.set_rewire, mesh, "rows")(jax.random.key(0), conn, w)
    conn, w = projection(jax.random.key(32), 8, 8, p=0.4)
    deep = rules.deep_r_init(jax.random.key(1), conn, w)
    with pytest.raises(ValueError, match=r"pre_sign must have shape \[n_pre\]=\(8,\)"):
        row_sharded(DR.deep_r, mesh, "rows")(jax.random.key(0), conn, deep, pre_sign=jnp.ones(2))
    with pytest.raises(ValueError, match=r"dense gradient must be \[n_pre, n_post\]=\(8, 8\)"):
        row_sharded(DR.rigl, mesh, "rows")(jax.random.key(0), conn, w, jnp.ones((8, 3)))
