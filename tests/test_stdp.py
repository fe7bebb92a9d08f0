import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spars
from spars.learning import STDP, stdp_update, stdp_update_columns

from .strategies import examples

RULE = STDP(g_max=0.2, a_plus=0.05, dt=1.0)


def _stdp_numpy(rule, mask, w, pre_spikes, post_spikes):
    """Dense-matrix STDP written out step by step: ``w`` is ``[n_pre, n_post]``."""
    w, x_pre, x_post = w.astype(np.float64), 0.0 * w[:, 0], 0.0 * w[0]
    for z_pre, z_post in zip(pre_spikes, post_spikes, strict=True):
        x_pre = x_pre * np.exp(-rule.dt / rule.tau_plus)
        x_post = x_post * np.exp(-rule.dt / rule.tau_minus)
        dep = rule.depression * rule.g_max * np.outer(z_pre, x_post)
        w = np.where(mask, np.clip(w - dep, 0, rule.g_max), 0)
        pot = rule.a_plus * rule.g_max * np.outer(x_pre, z_post)
        w = np.where(mask, np.clip(w + pot, 0, rule.g_max), 0)
        x_pre, x_post = x_pre + z_pre, x_post + z_post
    return w, x_pre, x_post


def _network(seed, n_pre, n_post, density):
    """Random synapses (one empty and one full row when there is room) with 2x headroom."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_pre, n_post)) < density
    if n_pre > 1:
        mask[0], mask[-1] = False, True
    pre, post = np.nonzero(mask)
    w0 = rng.uniform(0, RULE.g_max, pre.size).astype(np.float32)
    max_row = 2 * max(int(mask.sum(1).max(initial=0)), 1)
    conn, w = spars.from_coo(pre, post, (n_pre, n_post), w0, max_row=max_row)
    return conn, w, mask


def _run(update, conn, w, pre_spikes, post_spikes):
    def step(carry, z):
        w, traces = update(conn, *carry, *z)
        return (w, traces), None

    carry = (w, RULE.init(conn.n_pre, conn.n_post))
    spikes = (jnp.asarray(pre_spikes), jnp.asarray(post_spikes))
    return jax.jit(lambda c, s: jax.lax.scan(step, c, s)[0])(carry, spikes)


@examples(12)
@given(
    seed=st.integers(0, 2**16),
    n_pre=st.integers(1, 9),
    n_post=st.integers(1, 9),
    density=st.sampled_from([0.0, 0.3, 1.0]),
    rate=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_both_formulations_equal_the_dense_reference(seed, n_pre, n_post, density, rate):
    conn, w, mask = _network(seed, n_pre, n_post, density)
    rng = np.random.default_rng(seed + 1)
    pre_spikes = (rng.random((40, n_pre)) < rate).astype(np.float32)
    post_spikes = (rng.random((40, n_post)) < rate).astype(np.float32)
    w_ref, x_pre, x_post = _stdp_numpy(
        RULE, mask, np.asarray(spars.to_dense(conn, w)), pre_spikes, post_spikes
    )
    columns = spars.column_view(conn)
    variants = {
        "rows": lambda c, w, t, zp, zq: stdp_update(RULE, c, w, t, zp, zq),
        "columns": lambda c, w, t, zp, zq: stdp_update_columns(
            RULE, c, columns, w, t, zp, zq, event_capacity=2
        ),
    }
    for name, update in variants.items():
        w_out, traces = _run(update, conn, w, pre_spikes, post_spikes)
        np.testing.assert_allclose(spars.to_dense(conn, w_out), w_ref, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(traces.pre, x_pre, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(traces.post, x_post, rtol=1e-5, err_msg=name)
        assert np.all(np.asarray(w_out)[~np.asarray(conn.mask)] == 0), name


@pytest.mark.parametrize("update", ["rows", "columns"])
def test_hand_worked_pairs(update):
    """Pre 10 steps before post potentiates by a_plus e^(-10 dt/tau_plus); post-before-pre
    depresses by a_minus e^(-k dt/tau_minus)."""
    rule = STDP(g_max=1.0, a_plus=0.01, dt=0.5)
    conn, w = spars.from_coo([0, 1], [0, 0], (2, 1), [0.5, 0.5], max_row=2)
    columns = spars.column_view(conn)

    def one(w, traces, zp, zq):
        if update == "rows":
            return stdp_update(rule, conn, w, traces, zp, zq)
        return stdp_update_columns(rule, conn, columns, w, traces, zp, zq)

    pre, post = np.zeros((30, 2), np.float32), np.zeros((30, 1), np.float32)
    pre[0, 0], post[10, 0], pre[14, 1] = 1, 1, 1  # 0 -> post: causal; post -> 1: acausal
    traces = rule.init(2, 1)
    for zp, zq in zip(pre, post, strict=True):
        w, traces = one(w, traces, jnp.asarray(zp), jnp.asarray(zq))
    expected_dep = 1.2 * 0.01 * 20.0 / 64.0 * np.exp(-4 * 0.5 / 64.0)
    np.testing.assert_allclose(w[0, 0], 0.5 + 0.01 * np.exp(-10 * 0.5 / 20.0), rtol=1e-6)
    np.testing.assert_allclose(w[1, 0], 0.5 - expected_dep, rtol=1e-6)
    np.testing.assert_allclose(rule.depression, 1.2 * 0.01 * 20.0 / 64.0)


def test_vmap_over_networks_equals_each():
    conn, w, _ = _network(3, 6, 5, 0.5)
    rng = np.random.default_rng(0)
    pre = jnp.asarray(rng.random((2, 6)) < 0.5, jnp.float32)
    post = jnp.asarray(rng.random((2, 5)) < 0.5, jnp.float32)
    traces = spars.learning.STDPTraces(jnp.ones((2, 6)), jnp.ones((2, 5)))
    ws = jnp.stack([w, w * 0.5])

    def update(w, t, zp, zq):
        return stdp_update(RULE, conn, w, t, zp, zq)

    batched = jax.vmap(update)(ws, traces, pre, post)
    for b in range(2):
        single = update(ws[b], jax.tree.map(lambda x, b=b: x[b], traces), pre[b], post[b])
        np.testing.assert_allclose(batched[0][b], single[0], rtol=1e-6)


def test_shape_errors_name_the_argument():
    conn, w, _ = _network(0, 4, 3, 0.5)
    traces = RULE.init(4, 3)
    with pytest.raises(ValueError, match="post_spikes has shape"):
        stdp_update(RULE, conn, w, traces, jnp.zeros(4), jnp.zeros(4))
    with pytest.raises(ValueError, match="vmap for batches"):
        stdp_update(RULE, conn, w, traces, jnp.zeros((2, 4)), jnp.zeros(3))


@pytest.mark.parametrize("update", ["rows", "columns"])
def test_shared_presynaptic_events_give_the_same_weights(update):
    conn, w, _ = _network(4, 30, 20, 0.3)
    rng = np.random.default_rng(1)
    pre = jnp.asarray(rng.random(30) < 0.4, jnp.float32)
    post = jnp.asarray(rng.random(20) < 0.4, jnp.float32)
    traces = spars.learning.STDPTraces(jnp.ones(30), jnp.ones(20))
    args = (RULE, conn, w, traces, pre, post)
    if update == "columns":
        args = (RULE, conn, spars.column_view(conn), w, traces, pre, post)
    fn = stdp_update if update == "rows" else stdp_update_columns
    shared = fn(*args, pre_events=spars.spike_events(pre))
    for a, b in zip(jax.tree.leaves(shared), jax.tree.leaves(fn(*args)), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="events list"):
        fn(*args, pre_events=spars.spike_events(jnp.zeros(300)))
