import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spars
from spars import rules

from .reference import pairs_of
from .strategies import examples

GRID = (6, 6)


def _network(seed, p=0.2, headroom=2.0):
    """A 36 -> 36 projection with weights, DEEP R variables and a synapse id."""
    key = jax.random.key(seed)
    conn = spars.gaussian_grid(key, GRID, GRID, p, 2.0, headroom=headroom)
    weight = jnp.where(
        conn.mask, jax.random.normal(jax.random.fold_in(key, 1), conn.indices.shape), 0
    )
    ids = jnp.where(conn.mask, 1.0 + jnp.arange(conn.indices.size).reshape(conn.indices.shape), 0)
    delay = jax.random.randint(jax.random.fold_in(key, 2), conn.indices.shape, 1, MAX_DELAY + 1)
    variables = {**rules.deep_r_init(key, conn, weight), "weight": weight, "id": ids,
                 "delay": jnp.where(conn.mask, delay, 0)}  # fmt: skip
    return conn, variables


MAX_DELAY = 6
NEW_DELAY = spars.random_delays(2, 5)  # new synapses draw a delay in [2, 5] steps


def _apply(name, key, conn, variables):
    v = variables
    new = {"new_synapse": NEW_DELAY}
    if name == "deep_r":
        return rules.deep_r(key, conn, v, max_rounds=32, **new)
    if name == "set":
        return rules.set_rewire(key, conn, v, zeta=0.3, new_weight=0.5, **new)
    if name == "rigl_dense":
        return rules.rigl(key, conn, v, jax.random.normal(key, conn.shape), zeta=0.2, **new)
    if name == "rigl_sampled":
        # integer-valued factors: every score is exact, so however a compiler orders the
        # sums (batched or not), ties and order are the same and vmap equals one network
        a, g = (jax.random.randint(key, (4, n), -8, 9).astype(jnp.float32)
                for n in (conn.n_pre, conn.n_post))  # fmt: skip
        score = rules.outer_product_score(a, g)
        return rules.rigl(key, conn, v, score, zeta=0.2, **new)
    if name == "prune":
        return rules.magnitude_prune(key, conn, v, sparsity=0.9)
    return rules.topographic(
        key,
        conn,
        v,
        pre_shape=GRID,
        post_shape=GRID,
        n_candidates=200,
        p_form=0.5,
        sigma=2.0,
        p_elim_dep=0.5,
        p_elim_pot=0.05,
        threshold=0.0,
        new_weight=0.7,
        max_in_degree=12,
        **new,
    )


RULES = ["deep_r", "set", "rigl_dense", "rigl_sampled", "prune", "topographic"]
NEW_WEIGHT = {"set": 0.5, "rigl_dense": 0.0, "rigl_sampled": 0.0, "topographic": 0.7}


def _perturb_theta(key, conn, variables):
    """A parameter step that sends some thetas below 0."""
    shift = jax.random.uniform(key, conn.indices.shape, minval=-0.5, maxval=0.1)
    return {**variables, "theta": jnp.where(conn.mask, variables["theta"] + shift, 0.0)}


def _check_step(name, before, after, stats):
    """Invariants, survivors unchanged, new synapses initialised, stats exact."""
    (conn0, v0), (conn1, v1) = before, after
    spars.validate(conn1, v1)
    spars.validate_delays(conn1, v1["delay"], MAX_DELAY)
    keys = ["weight", "theta", "sign", "delay"]
    old = {
        vals[0]: (pair, vals[1:])
        for pair, vals in pairs_of(conn0, v0["id"], *(v0[k] for k in keys)).items()
    }
    now = pairs_of(conn1, v1["id"], *(v1[k] for k in keys))
    survivors = [(pair, vals) for pair, vals in now.items() if vals[0] != 0]
    for pair, vals in survivors:
        assert old[vals[0]] == (pair, vals[1:])
    fresh = [vals for vals in now.values() if vals[0] == 0]
    assert int(stats.removed) == len(old) - len(survivors)
    assert int(stats.added) == len(fresh)
    for weight, theta, sign, delay in (f[1:] for f in fresh):
        assert delay in (2, 3, 4, 5)
        if name == "deep_r":
            assert weight == 0 and theta == 0 and sign in (-1.0, 1.0)
        else:
            assert weight == np.float32(NEW_WEIGHT[name]) and theta == 0 and sign == 0


@examples(5)  # each example compiles a sequence of rules
@given(st.integers(0, 2**20), st.lists(st.sampled_from(RULES), min_size=1, max_size=4))
def test_any_sequence_of_rules_keeps_invariants_and_survivors(seed, sequence):
    state = _network(seed)
    for step, name in enumerate(sequence):
        key = jax.random.key(seed + 7919 * step)
        if name == "deep_r":
            state = (state[0], _perturb_theta(key, *state))
        conn, variables, stats = _JITTED[name](key, *state)
        _check_step(name, state, (conn, variables), stats)
        if name in ("deep_r", "set", "rigl_dense", "rigl_sampled"):
            assert int(stats.failed) == 0
            assert int(conn.n_synapses) == int(state[0].n_synapses)
        state = (conn, _renumber(conn, variables))


def test_a_long_rule_sequence_keeps_invariants_and_moves_delays_with_their_synapses():
    rng = np.random.default_rng(11)
    state = _network(5)
    for step, name in enumerate(rng.choice(RULES, 24)):
        key = jax.random.key(100 + step)
        if name == "deep_r":
            state = (state[0], _perturb_theta(key, *state))
        conn, variables, stats = _JITTED[name](key, *state)
        _check_step(name, state, (conn, variables), stats)
        state = (conn, _renumber(conn, variables))
    assert int(state[0].n_synapses) > 0


def test_new_synapse_values_are_checked():
    conn, v = _network(0)
    with pytest.raises(ValueError, match=r"gave \['lag'\], which are not among the variables"):
        rules.set_rewire(
            jax.random.key(0), conn, v, new_synapse=spars.random_delays(1, 2, name="lag")
        )
    with pytest.raises(ValueError, match="new_synapse needs variables as a dict"):
        rules.set_rewire(jax.random.key(0), conn, v["weight"], new_synapse=NEW_DELAY)
    with pytest.raises(ValueError, match="1 <= low <= high"):
        spars.random_delays(0, 3)


def _renumber(conn, variables):
    """Gives new synapses (id 0) fresh ids, so the next step can track them too."""
    ids = variables["id"]
    fresh = ids.max() + 1.0 + jnp.arange(ids.size).reshape(ids.shape)
    return {**variables, "id": jnp.where(conn.mask & (ids == 0), fresh, ids)}


_JITTED = {name: jax.jit(functools.partial(_apply, name)) for name in RULES}


@pytest.mark.parametrize("name", ["deep_r", "set"])
def test_failures_are_reported_when_placement_budget_runs_out(name):
    conn, v = _network(0, p=0.3)
    v = {**v, "theta": v["theta"] - 10.0 * conn.mask}  # every synapse dormant
    args = dict(n_candidates=8, max_rounds=1)
    if name == "deep_r":
        new, v1, stats = rules.deep_r(jax.random.key(1), conn, v, **args)
    else:
        new, v1, stats = rules.set_rewire(jax.random.key(1), conn, v, zeta=1.0, **args)
    assert int(stats.removed) == int(conn.n_synapses)
    assert 0 < int(stats.added) <= 8
    assert int(stats.failed) == int(stats.removed) - int(stats.added)
    assert int(new.n_synapses) == int(conn.n_synapses) - int(stats.failed)
    spars.validate(new, v1)


def test_rigl_reports_failures_when_every_row_is_full():
    conn, w = spars.from_dense(np.ones((4, 4)), max_row=4)
    score = rules.outer_product_score(jnp.ones((1, 4)), jnp.ones((1, 4)))
    new, _, stats = rules.rigl(
        jax.random.key(0), conn, w * np.arange(16.0).reshape(4, 4), score, zeta=0.25
    )
    # the four weakest synapses (all of row 0) go; row 0 is the only one with room.
    assert int(stats.removed) == 4 and int(stats.added) + int(stats.failed) == 4
    assert int(new.n_synapses) == 12 + int(stats.added)


def test_deep_r_without_noise_l1_or_sign_change_leaves_connectivity_untouched():
    conn, v = _network(3)
    variables = {"theta": v["theta"], "sign": v["sign"]}
    opt = optax.chain(optax.sgd(0.1), rules.deep_r_noise(0.1, 0.0, 0.0, jax.random.key(0)))
    state = opt.init(variables)
    for _ in range(3):  # gradients that only grow theta: no sign change
        grads = {"theta": -jnp.abs(variables["theta"]), "sign": jnp.zeros_like(variables["sign"])}
        updates, state = opt.update(
            grads, state, variables, slot_mask={"theta": conn.mask, "sign": False}
        )
        variables = optax.apply_updates(variables, updates)
    new, moved, stats = rules.deep_r(jax.random.key(5), conn, variables)
    jax.tree.map(np.testing.assert_array_equal, (new, moved), (conn, variables))
    assert tuple(int(s) for s in stats) == (0, 0, 0)


def test_deep_r_weights_give_new_synapses_their_full_gradient():
    theta = jnp.array([[0.0, 0.3, -0.2, 0.0]])
    sign = jnp.array([[1.0, -1.0, 1.0, -1.0]])
    w, pullback = jax.vjp(lambda t: rules.deep_r_weights({"theta": t, "sign": sign}), theta)
    np.testing.assert_allclose(w, [[0.0, -0.3, 0.0, 0.0]])
    (grad,) = pullback(jnp.full_like(w, 2.0))
    np.testing.assert_array_equal(grad, [[2.0, -2.0, 0.0, -2.0]])  # theta = 0: all of it


def test_deep_r_noise_has_the_langevin_statistics():
    lr, l1, temperature = 0.01, 0.3, 0.05
    conn = spars.fixed_probability(jax.random.key(0), 200, 300, 0.2, headroom=1.5)
    params = {"theta": jnp.zeros(conn.indices.shape), "readout": jnp.zeros((3, 3))}
    opt = rules.deep_r_noise(lr, l1, temperature, jax.random.key(1))
    zeros = jax.tree.map(jnp.zeros_like, params)
    step, _ = jax.jit(opt.update)(
        zeros, opt.init(params), params, slot_mask={"theta": conn.mask, "readout": False}
    )
    real = np.asarray(step["theta"])[np.asarray(conn.mask)]
    n = real.size
    assert abs(real.mean() + lr * l1) < 5 * np.sqrt(2 * lr * temperature / n)
    np.testing.assert_allclose(real.var(), 2 * lr * temperature, rtol=5 * np.sqrt(2 / n))
    assert np.all(np.asarray(step["theta"])[~np.asarray(conn.mask)] == 0)
    assert np.all(np.asarray(step["readout"]) == 0)


def test_deep_r_l1_adds_the_penalty_gradient_on_real_slots_only():
    conn, _ = spars.from_dense(np.array([[1.0, 0, 2.0], [0, 0, 0]]), max_row=3)
    grads = {"theta": jnp.full((2, 3), 0.5), "readout": jnp.ones((2, 2))}
    opt = optax.chain(rules.deep_r_l1(0.25), optax.sgd(1.0))
    step, _ = opt.update(grads, opt.init(grads), slot_mask={"theta": conn.mask, "readout": False})
    np.testing.assert_allclose(step["theta"], [[-0.75, -0.75, -0.5], [-0.5, -0.5, -0.5]])
    np.testing.assert_allclose(step["readout"], -np.ones((2, 2)))


def test_set_and_prune_remove_exactly_the_smallest_magnitudes():
    w = np.array([[0.5, -0.1, 0, 2.0], [0, -3.0, 0.2, 0], [0.05, 0, 0, 0]], np.float32)
    conn, weights = spars.from_dense(w, max_row=4)
    new, w1, stats = rules.magnitude_prune(None, conn, weights, sparsity=1 - 3 / 12)
    assert set(pairs_of(new, w1)) == {(0, 0), (0, 3), (1, 1)}
    assert int(stats.removed) == 3
    new, w1, stats = rules.set_rewire(jax.random.key(0), conn, weights, zeta=0.5, new_weight=9.0)
    survivors = {p for p, (x,) in pairs_of(new, w1).items() if x != 9.0}
    assert survivors == {(0, 0), (0, 3), (1, 1)}
    assert int(new.n_synapses) == 6


def test_zhu_gupta_schedule_hand_values():
    f = functools.partial(
        rules.zhu_gupta_sparsity,
        initial_sparsity=0.0,
        final_sparsity=0.8,
        begin_step=100,
        end_step=200,
        frequency=10,
    )
    for step, expect in [(0, 0.0), (100, 0.0), (155, 0.8 * (1 - 0.5**3)), (200, 0.8), (900, 0.8)]:
        np.testing.assert_allclose(f(step), expect, rtol=1e-6)
    with pytest.raises(ValueError, match="end_step > begin_step"):
        rules.zhu_gupta_sparsity(
            0, initial_sparsity=0, final_sparsity=0.5, begin_step=5, end_step=5
        )


def test_rigl_grows_where_the_dense_gradient_is_largest():
    w = np.array([[1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 3.0, 0]], np.float32)
    conn, weights = spars.from_dense(w, max_row=2)
    grad = np.array([[0, 5, 1, 0], [4, 0, 0, 9], [0, 0, 0, 3]], np.float32)
    new, w1, stats = rules.rigl(None, conn, weights, grad, zeta=0.34)
    # drops the weakest synapse (0, 0); grows the unconnected pair of largest |grad|, (1, 3).
    assert set(pairs_of(new, w1)) == {(1, 1), (2, 2), (1, 3)}
    assert tuple(int(x) for x in stats) == (1, 1, 0)
    a, g = (
        np.random.default_rng(0).normal(size=(2, 5, 3)),
        np.random.default_rng(1).normal(size=(5, 4)),
    )
    score = rules.outer_product_score(a[0], g)
    np.testing.assert_allclose(
        score(jnp.array([2, 0]), jnp.array([1, 3])), np.abs((a[0].T @ g)[[2, 0], [1, 3]]), rtol=1e-5
    )


def test_rigl_candidate_sampling_matches_dense_when_candidates_cover_all_pairs():
    conn, v = _network(4, p=0.3)
    a = jax.random.normal(jax.random.key(0), (8, 36))
    g = jax.random.normal(jax.random.key(1), (8, 36))
    dense, w_dense, _ = rules.rigl(None, conn, v["weight"], a.T @ g, zeta=0.1)
    sampled, w_sampled, _ = rules.rigl(
        jax.random.key(2),
        conn,
        v["weight"],
        rules.outer_product_score(a, g),
        zeta=0.1,
        n_candidates=40_000,
    )
    assert set(pairs_of(dense, w_dense)) == set(pairs_of(sampled, w_sampled))


def test_formation_and_elimination_frequencies_match_the_probabilities():
    n, k, p_form, sigma, p_dep, updates = 100, 300, 0.6, 1.5, 0.3, 64
    shape = (10, 10)
    full = spars.from_dense(np.ones((n, n)) - np.eye(n), max_row=n)[0]
    empty = spars.empty(n, n, n)
    pre, post = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d2 = np.asarray(spars._grid.squared_distance(jnp.asarray(pre), jnp.asarray(post), shape, shape))
    drawn = 1 - (1 - 1 / (n * n)) ** k  # chance a given pair is among the candidates

    def update(key, conn):
        w = jnp.zeros(conn.indices.shape)
        return rules.topographic(
            key,
            conn,
            w,
            pre_shape=shape,
            post_shape=shape,
            n_candidates=k,
            p_form=p_form,
            sigma=sigma,
            p_elim_dep=p_dep,
            p_elim_pot=0.0,
            threshold=1.0,
            new_weight=1.0,
        )

    keys = jax.random.split(jax.random.key(0), updates)
    formed = jax.vmap(update, in_axes=(0, None))(keys, empty)
    counts = np.zeros((n, n))
    for b in range(updates):
        conn_b = jax.tree.map(lambda x, b=b: x[b], formed[0])
        for pair in pairs_of(conn_b):
            counts[pair] += 1
    q = drawn * p_form * np.exp(-d2 / (2 * sigma**2))
    for lo, hi in [(0, 1.1), (1.1, 4.1), (4.1, 9.1), (9.1, 50)]:
        ring = (d2 >= lo) & (d2 < hi)
        expect, var = updates * q[ring].sum(), updates * (q * (1 - q))[ring].sum()
        assert abs(counts[ring].sum() - expect) < 5 * np.sqrt(var) + 1, (lo, hi)
    removed = jax.vmap(update, in_axes=(0, None))(keys, full)[2].removed
    expect = updates * drawn * p_dep * (n * n - n)
    assert abs(int(removed.sum()) - expect) < 5 * np.sqrt(expect)


def test_topographic_in_degree_cap():
    conn, v = _network(1, p=0.1, headroom=4.0)
    cap = int(spars.in_degree(conn).max()) + 1
    for step in range(5):
        conn, v, _ = rules.topographic(
            jax.random.key(step),
            conn,
            v,
            pre_shape=GRID,
            post_shape=GRID,
            n_candidates=500,
            p_form=1.0,
            sigma=3.0,
            p_elim_dep=0.0,
            p_elim_pot=0.0,
            threshold=0.0,
            new_weight=1.0,
            max_in_degree=cap,
        )
    assert int(spars.in_degree(conn).max()) == cap


@pytest.mark.parametrize("name", RULES)
def test_rules_are_reproducible_and_vmap_over_networks(name):
    nets = [_network(s) for s in range(3)]
    width = max(c.max_row for c, _ in nets)
    nets = [spars.structure.trim(c, v, width) for c, v in nets]
    keys = jax.random.split(jax.random.key(9), 3)
    if name == "deep_r":
        nets = [(c, _perturb_theta(k, c, v)) for k, (c, v) in zip(keys, nets, strict=True)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *nets)
    batched = jax.vmap(_JITTED[name])(keys, *stacked)
    for b, net in enumerate(nets):
        single = _JITTED[name](keys[b], *net)
        jax.tree.map(lambda x, y, b=b: np.testing.assert_array_equal(x[b], y), batched, single)
    again = jax.vmap(_JITTED[name])(keys, *stacked)
    jax.tree.map(np.testing.assert_array_equal, batched, again)


def test_rule_argument_errors():
    conn, v = _network(0)
    with pytest.raises(ValueError, match="need a 'theta' entry"):
        rules.deep_r(jax.random.key(0), conn, {"sign": v["sign"]})
    with pytest.raises(ValueError, match="no 'weight' entry"):
        rules.set_rewire(jax.random.key(0), conn, {"w": v["weight"]})
    with pytest.raises(ValueError, match="dense gradient has shape"):
        rules.rigl(jax.random.key(0), conn, v["weight"], jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="do not match"):
        rules.topographic(
            jax.random.key(0),
            conn,
            v,
            pre_shape=(2, 2),
            post_shape=GRID,
            n_candidates=4,
            p_form=1,
            sigma=1,
            p_elim_dep=0,
            p_elim_pot=0,
            threshold=0,
            new_weight=1,
        )
