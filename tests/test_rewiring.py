"""rules.rewiring: optimizer state, parameters and fixed variables move with their synapses."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import spars
from spars import rules


def projection(seed: int, n_pre=12, n_post=10, k=3):
    key = jax.random.key(seed)
    conn = spars.fixed_number_post(key, n_pre, n_post, k, max_row=6)
    w = jnp.where(conn.mask, jax.random.normal(jax.random.fold_in(key, 1), conn.indices.shape), 0)
    return conn, rules.deep_r_init(jax.random.fold_in(key, 2), conn, w)


def by_pair(conn, *arrays):
    """``{(pre, post): (value per array)}`` over the real synapses."""
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    return {(i, int(idx[i, k])): tuple(float(np.asarray(a)[i, k]) for a in arrays)
            for i in range(conn.n_pre) for k in range(length[i])}  # fmt: skip


def deep_r_setup():
    """Two projections of the same [n_pre, max_row] shape, rewired differently, and a readout."""
    (ca, va), (cb, vb) = projection(0), projection(1)
    assert ca.indices.shape == cb.indices.shape  # what a match by shape would confuse
    params = {"a": va["theta"], "b": vb["theta"], "out": jnp.ones((10, 3))}
    fixed = {"a": {"sign": va["sign"]}, "b": {"sign": vb["sign"]}}
    key = jax.random.key(3)
    grads = {n: jax.random.normal(jax.random.fold_in(key, i), jnp.shape(p))
             for i, (n, p) in enumerate(params.items())}  # fmt: skip
    grads = {
        **grads,
        "a": jnp.where(ca.mask, grads["a"], 0),
        "b": jnp.where(cb.mask, grads["b"], 0),
    }
    return {"a": ca, "b": cb}, params, fixed, grads


def test_moments_params_and_signs_follow_their_synapses_in_same_shaped_projections():
    conns, params, fixed, grads = deep_r_setup()
    opt = optax.adam(0.3)  # large steps: many thetas fall below 0 and are rewired
    train = rules.rewiring(opt, rules.deep_r, variable="theta")
    state, stats = jax.jit(train.update)(jax.random.key(4), grads, train.init(params, conns, fixed))
    # reference: the plain optax step on the same params, before any rewiring
    updates, ref_state = opt.update(grads, opt.init(params), params)
    ref_params = optax.apply_updates(params, updates)
    mu, nu = ref_state[0].mu, ref_state[0].nu
    new_mu, new_nu = state.opt_state[0].mu, state.opt_state[0].nu
    for name in ("a", "b"):
        before = by_pair(conns[name], ref_params[name], fixed[name]["sign"], mu[name], nu[name])
        after = by_pair(state.conns[name], state.params[name], state.fixed[name]["sign"],
                        new_mu[name], new_nu[name])  # fmt: skip
        kept = {pair for pair, (theta, *_) in before.items() if theta >= 0}
        assert 0 < int(stats[name].removed) == len(before) - len(kept)
        assert len(after) == len(before)  # DEEP R keeps the count
        for pair, values in after.items():
            if pair in kept:
                np.testing.assert_allclose(values, before[pair], rtol=1e-6)
            else:  # new synapse: theta 0, a sign, no inherited moments
                assert values[0] == 0 and values[1] in (-1.0, 1.0) and values[2:] == (0, 0)
        spars.validate(state.conns[name])
    np.testing.assert_allclose(state.params["out"], ref_params["out"], rtol=1e-6)
    np.testing.assert_allclose(new_mu["out"], mu["out"], rtol=1e-6)


def test_every_k_steps_rewires_only_on_the_kth():
    conns, params, fixed, grads = deep_r_setup()
    train = rules.rewiring(optax.sgd(0.5), rules.deep_r, variable="theta", every=3)
    state = train.init(params, conns, fixed)
    update = jax.jit(train.update)
    for step in range(1, 7):
        previous = state
        state, stats = update(jax.random.key(step), grads, state)
        moved = int(stats["a"].removed) + int(stats["b"].removed)
        if step % 3:
            assert moved == 0
            np.testing.assert_array_equal(state.conns["a"].indices, previous.conns["a"].indices)
        else:
            assert moved > 0
    assert int(state.count) == 6


def test_equals_the_rule_called_by_hand_with_the_moments_among_its_variables():
    conns, params, fixed, grads = deep_r_setup()
    opt = optax.chain(rules.deep_r_l1(0.2), optax.adam(0.1))
    train = rules.rewiring(opt, rules.deep_r, variable="theta",
                           rule_kwargs={"b": {"autapses": False}})  # fmt: skip
    key = jax.random.key(5)
    state, _ = train.update(key, grads, train.init(params, conns, fixed))
    mask = {"a": conns["a"].mask, "b": conns["b"].mask, "out": False}
    extra = optax.with_extra_args_support(opt)
    updates, opt_state = extra.update(grads, opt.init(params), params, slot_mask=mask)
    p = optax.apply_updates(params, updates)
    for name, k in zip(("a", "b"), jax.random.split(key), strict=True):
        moments = [opt_state[1][0].mu[name], opt_state[1][0].nu[name]]
        variables = {"theta": p[name], "sign": fixed[name]["sign"], "m": moments}
        conn, variables, _ = rules.deep_r(k, conns[name], variables, autapses=name == "a")
        np.testing.assert_array_equal(state.conns[name].indices, conn.indices)
        np.testing.assert_array_equal(state.params[name], variables["theta"])
        np.testing.assert_array_equal(state.opt_state[1][0].nu[name], variables["m"][1])


def test_rigl_takes_its_gradient_score_per_projection_and_dict_params():
    conn, v = projection(6)
    w = v["sign"] * v["theta"]
    delay = jnp.where(conn.mask, 2.0, 0.0)
    params = {"ff": {"weight": w, "delay": delay}}
    train = rules.rewiring(optax.adam(1e-2), partial(rules.rigl, zeta=0.3,
                           new_synapse=spars.random_delays(1, 4)))  # fmt: skip
    state = train.init(params, {"ff": conn})
    dense = jax.random.normal(jax.random.key(7), (conn.n_pre, conn.n_post))
    grads = {"ff": {"weight": jnp.where(conn.mask, 1.0, 0.0), "delay": jnp.zeros_like(delay)}}
    state, stats = jax.jit(train.update)(jax.random.key(8), grads, state,
                                         ff={"grad_score": dense})  # fmt: skip
    assert int(stats["ff"].added) == int(stats["ff"].removed) > 0
    new = state.params["ff"]
    spars.validate_delays(state.conns["ff"], new["delay"], 4)
    mu = state.opt_state[0].mu["ff"]["weight"]
    fresh = np.asarray(state.conns["ff"].mask) & (np.asarray(new["weight"]) == 0)
    assert fresh.sum() == int(stats["ff"].added) and np.all(np.asarray(mu)[fresh] == 0)


def test_under_vmap_over_networks_equals_one_network_at_a_time():
    conns, params, fixed, grads = deep_r_setup()
    train = rules.rewiring(optax.adam(0.3), rules.deep_r, variable="theta")
    state = train.init(params, conns, fixed)
    keys = jax.random.split(jax.random.key(9), 2)
    both = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    got, _ = jax.vmap(train.update, in_axes=(0, None, 0))(keys, grads, both)
    for n in range(2):
        want, _ = train.update(keys[n], grads, state)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g[n], w, rtol=1e-6)  # ints (the rows) exactly


def test_bad_input_raises_clear_errors():
    conns, params, fixed, _ = deep_r_setup()
    train = rules.rewiring(optax.adam(1e-3), rules.deep_r, variable="theta")
    with pytest.raises(ValueError, match="every must be"):
        rules.rewiring(optax.adam(1e-3), rules.deep_r, every=0)
    with pytest.raises(ValueError, match="params must be a dict"):
        train.init(params["a"], conns, fixed)
    with pytest.raises(ValueError, match="no entry for the rewired projection 'b'"):
        train.init({"a": params["a"]}, conns, fixed)
    with pytest.raises(ValueError, match="'sign' has shape"):
        train.init(params, conns, {**fixed, "a": {"sign": jnp.ones((2, 2))}})
    with pytest.raises(ValueError, match="not rewired projections"):
        train.init(params, conns, {**fixed, "c": {}})
    with pytest.raises(ValueError, match="no 'weight'"):
        as_theta = {**params, "a": {"theta": params["a"]}, "b": {"theta": params["b"]}}
        rules.rewiring(optax.adam(1e-3), rules.set_rewire).init(as_theta, conns)


def test_multi_transform_groups_move_their_moments_too():
    conn, v = projection(12)
    delay = jnp.where(conn.mask, 2.0, 0.0)
    params = {"ff": {"theta": v["theta"], "delay": delay}, "out": jnp.ones((10, 3))}
    groups = {"ff": {"theta": "w", "delay": "d"}, "out": "w"}
    opt = optax.multi_transform({"w": optax.adam(0.5), "d": optax.adam(0.1)}, groups)
    new_delay = spars.random_delays(1, 3)
    train = rules.rewiring(opt, partial(rules.deep_r, new_synapse=new_delay), variable="theta")
    grads = jax.tree.map(lambda p: jnp.where(p != 0, 1.0, 0.0), params)
    start = train.init(params, {"ff": conn}, {"ff": {"sign": v["sign"]}})
    state, stats = jax.jit(train.update)(jax.random.key(13), grads, start)
    updates, ref = opt.update(grads, opt.init(params), params)
    ref_params = optax.apply_updates(params, updates)
    mu_w, mu_d = (
        ref.inner_states["w"][0][0].mu["ff"]["theta"],
        ref.inner_states["d"][0][0].mu["ff"]["delay"],
    )
    got = state.opt_state.inner_states
    before = by_pair(conn, ref_params["ff"]["theta"], mu_w, mu_d)
    after = by_pair(state.conns["ff"], state.params["ff"]["theta"],
                    got["w"][0][0].mu["ff"]["theta"], got["d"][0][0].mu["ff"]["delay"])  # fmt: skip
    assert int(stats["ff"].removed) > 0
    for pair, values in after.items():
        if before.get(pair, (-1,))[0] >= 0:
            np.testing.assert_allclose(values, before[pair], rtol=1e-6)
        else:
            assert values == (0, 0, 0)
