"""Dale's law in the rules, and DEEP R removal with RigL regrowth, against NumPy."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import spars
from spars import rules


def setup(seed=0, n_pre=24, n_post=16, p=0.25, headroom=2.0):
    key = jax.random.key(seed)
    conn = spars.fixed_probability(key, n_pre, n_post, p=p, headroom=headroom)
    w = jnp.where(conn.mask, jax.random.normal(jax.random.fold_in(key, 1), conn.indices.shape), 0)
    pre_sign = jnp.where(jnp.arange(n_pre) < 3 * n_pre // 4, 1.0, -1.0)  # 3:1 E:I
    return conn, w, pre_sign


def assert_dale(conn, sign, pre_sign):
    mask, sign = np.asarray(conn.mask), np.asarray(sign)
    rows = np.broadcast_to(np.asarray(pre_sign)[:, None], sign.shape)
    np.testing.assert_array_equal(sign[mask], rows[mask])
    assert np.all(sign[~mask] == 0)


def test_deep_r_init_and_regrowth_keep_every_synapse_at_its_neurons_sign():
    conn, w, pre_sign = setup()
    v = rules.deep_r_init(jax.random.key(1), conn, w, pre_sign=pre_sign)
    assert_dale(conn, v["sign"], pre_sign)
    np.testing.assert_array_equal(v["theta"], jnp.abs(w))
    step = jax.jit(partial(rules.deep_r, pre_sign=pre_sign))
    added = 0
    for i in range(8):
        k = jax.random.key(10 + i)
        v = {**v, "theta": v["theta"] - 0.4 * jax.random.uniform(k, w.shape)}  # some go dormant
        conn, v, stats = step(k, conn, v)
        added += int(stats.added)
        assert_dale(conn, v["sign"], pre_sign)
        spars.validate(conn)
    assert added > 20


def test_dale_signs_hook_gives_set_and_rigl_synapses_their_neurons_sign():
    conn, w, pre_sign = setup(2)
    variables = {"weight": jnp.abs(w), "sign": jnp.where(conn.mask, pre_sign[:, None], 0.0)}
    hook = rules.dale_signs(pre_sign)
    c1, v1, s1 = rules.set_rewire(jax.random.key(3), conn, variables, zeta=0.5, new_synapse=hook)
    dense = jax.random.normal(jax.random.key(4), conn.shape)
    c2, v2, s2 = rules.rigl(jax.random.key(5), conn, variables, dense, zeta=0.5, new_synapse=hook)
    for c, v, s in ((c1, v1, s1), (c2, v2, s2)):
        assert int(s.added) > 0
        assert_dale(c, v["sign"], pre_sign)


def numpy_deep_r_rigl(conn, theta, grad, pre_sign, autapses=True):
    """Survivors, then the ``removed`` best free pairs by growth, ties to the lower flat index."""
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    theta, grad = np.asarray(theta), np.asarray(grad)
    kept = {(i, int(idx[i, k])) for i in range(conn.n_pre) for k in range(length[i])
            if theta[i, k] >= 0}  # fmt: skip
    removed = int(length.sum()) - len(kept)
    left = {i: sum(1 for (a, _) in kept if a == i) for i in range(conn.n_pre)}
    growth = np.abs(grad) if pre_sign is None else -np.asarray(pre_sign)[:, None] * grad
    order = np.argsort(-growth.reshape(-1), kind="stable")
    new = []
    for flat in order:
        if len(new) == removed:
            break
        i, j = divmod(int(flat), conn.n_post)
        if (i, j) in kept or (not autapses and i == j) or left[i] >= conn.max_row:
            continue
        new.append((i, j))
        left[i] += 1
    return kept, new


@pytest.mark.parametrize("dale", [False, True])
def test_deep_r_rigl_grows_where_the_gradient_says_with_the_right_sign(dale):
    conn, w, pre_sign = setup(6, n_pre=12, n_post=12, p=0.3)
    pre_sign = pre_sign if dale else None
    v = rules.deep_r_init(jax.random.key(7), conn, w, pre_sign=pre_sign)
    v["theta"] = v["theta"] - 0.5  # the small ones go dormant
    grad = jax.random.normal(jax.random.key(8), conn.shape)
    kept, new = numpy_deep_r_rigl(conn, v["theta"], grad, pre_sign, autapses=False)
    c, out, stats = jax.jit(partial(rules.deep_r_rigl, pre_sign=pre_sign, autapses=False))(
        jax.random.key(9), conn, v, grad
    )
    got = {}
    idx, length = np.asarray(c.indices), np.asarray(c.row_length)
    for i in range(c.n_pre):
        for k in range(length[i]):
            got[(i, int(idx[i, k]))] = (float(out["theta"][i, k]), float(out["sign"][i, k]))
    assert set(got) == kept | set(new) and int(stats.added) == len(new) > 0
    assert int(stats.failed) == 0 and int(c.n_synapses) == int(conn.n_synapses)
    for pair in new:
        theta, sign = got[pair]
        want = float(pre_sign[pair[0]]) if dale else -np.sign(float(grad[pair]))
        assert theta == 0 and sign == want
    spars.validate(c)


def test_deep_r_rigl_with_a_candidate_gradient_keeps_count_and_dale():
    conn, w, pre_sign = setup(10, n_pre=40, n_post=30, p=0.1, headroom=3.0)
    v = rules.deep_r_init(jax.random.key(1), conn, w, pre_sign=pre_sign)
    v = {**v, "theta": v["theta"] - 0.5, "delay": jnp.where(conn.mask, 2, 0)}
    s = (jax.random.uniform(jax.random.key(2), (5, 40)) < 0.3).astype(jnp.float32)
    g = jax.random.normal(jax.random.key(3), (5, 30))
    score = rules.outer_product_grad(s, g)
    c, out, stats = rules.deep_r_rigl(jax.random.key(4), conn, v, score, pre_sign=pre_sign,
                                      new_synapse=spars.random_delays(1, 3))  # fmt: skip
    assert int(stats.removed) > 0 and int(stats.added) + int(stats.failed) == int(stats.removed)
    assert_dale(c, out["sign"], pre_sign)
    spars.validate_delays(c, out["delay"], 3)
    want = [float(s[:, 0] @ g[:, 3]), float(s[:, 5] @ g[:, 7])]
    np.testing.assert_allclose(score(jnp.array([0, 5]), jnp.array([3, 7])), want, rtol=1e-5)


def test_dale_through_the_rewiring_optimizer():
    conn, w, pre_sign = setup(11)
    v = rules.deep_r_init(jax.random.key(1), conn, w, pre_sign=pre_sign)
    train = rules.rewiring(optax.sgd(0.5), partial(rules.deep_r, pre_sign=pre_sign),
                           variable="theta")  # fmt: skip
    state = train.init({"ff": v["theta"]}, {"ff": conn}, {"ff": {"sign": v["sign"]}})
    update = jax.jit(train.update)
    for i in range(5):
        grads = {"ff": jnp.where(conn.mask, jax.random.normal(jax.random.key(i), w.shape), 0)}
        state, stats = update(jax.random.key(20 + i), grads, state)
    assert_dale(state.conns["ff"], state.fixed["ff"]["sign"], pre_sign)


def test_bad_pre_signs_raise():
    conn, w, pre_sign = setup()
    v = rules.deep_r_init(jax.random.key(1), conn, w)
    with pytest.raises(ValueError, match="pre_sign must have shape"):
        rules.deep_r(jax.random.key(0), conn, v, pre_sign=pre_sign[:-1])
    with pytest.raises(ValueError, match=r"\+1 \(excitatory\) or -1"):
        rules.deep_r_init(jax.random.key(0), conn, w, pre_sign=0.5 * pre_sign)
    with pytest.raises(ValueError, match="dense gradient has shape"):
        rules.deep_r_rigl(jax.random.key(0), conn, v, jnp.ones((3, 3)))
