import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import neurons
from spars.learning import (
    DenseSynapses,
    RateRegularisation,
    RecurrentSNN,
    SparseSynapses,
    bptt_grads,
    eprop_grads,
)

N_IN, N_REC, N_OUT, T, B = 7, 6, 3, 30, 4


def hidden_layer(adaptive: bool):
    kw = dict(tau_mem=15.0, v_thresh=0.5, reset_by_subtraction=True, detach_reset=True)
    return (
        neurons.ALIF(N_REC, beta=0.3, tau_adapt=40.0, **kw)
        if adaptive
        else neurons.LIF(N_REC, **kw)
    )


def synapses(key, n_pre, n_post, p, scale, layout: str):
    k_conn, k_w = jax.random.split(key)
    if layout == "dense":
        return DenseSynapses(scale * jax.random.normal(k_w, (n_pre, n_post)))
    conn = spars.fixed_probability(k_conn, n_pre, n_post, p, max_row=n_post)
    w = jnp.where(conn.mask, scale * jax.random.normal(k_w, conn.indices.shape), 0.0)
    spare = int(conn.n_synapses) + 3 if layout == "list" else None
    return SparseSynapses(conn, w, max_synapses=spare)


def make_model(key, *, sparse="slots", adaptive=False, rec_scale=0.0):
    ks = jax.random.split(key, 4)
    return RecurrentSNN(
        w_in=synapses(ks[0], N_IN, N_REC, 0.6, 0.8, sparse),
        w_rec=synapses(ks[1], N_REC, N_REC, 0.5, rec_scale, sparse),
        w_out=0.5 * jax.random.normal(ks[2], (N_REC, N_OUT)),
        b_out=0.1 * jax.random.normal(ks[3], (N_OUT,)),
        hidden=hidden_layer(adaptive),
        readout=neurons.LeakyIntegrator(N_OUT, tau_mem=10.0),
    )


def batch(key):
    k_x, k_l = jax.random.split(key)
    x = (jax.random.uniform(k_x, (T, B, N_IN)) < 0.3).astype(jnp.float32)
    return x, jax.random.randint(k_l, (B,), 0, N_OUT)


def leaves(grads):
    return jax.tree.leaves(grads)


def assert_trees_close(a, b, rtol=2e-4):
    for x, y in zip(leaves(a), leaves(b), strict=True):
        scale = float(jnp.max(jnp.abs(y), initial=0.0)) + 1e-12
        np.testing.assert_allclose(x / scale, y / scale, atol=rtol)


@pytest.mark.parametrize(
    ("sparse", "adaptive", "c_reg", "online"),
    [("slots", False, 0.0, True), ("slots", True, 0.7, False), ("list", True, 0.0, False),
     ("list", False, 0.7, True), ("dense", False, 0.7, False), ("dense", True, 0.0, True)],
)  # fmt: skip
def test_eprop_equals_bptt_without_recurrence(sparse, adaptive, c_reg, online):
    """With zero recurrent weights no path is ignored: e-prop is exact, in either mode."""
    model = make_model(jax.random.key(1), sparse=sparse, adaptive=adaptive)
    x, labels = batch(jax.random.key(2))
    reg = RateRegularisation(c_reg=c_reg, f_target=20.0, tau_reg=50.0)
    g_bptt, m_bptt = bptt_grads(model, x, labels, reg)
    assert float(m_bptt.rate) > 5.0  # the hidden layer spikes, so psi and traces matter
    assert float(jnp.abs(g_bptt.w_in.weight).max()) > 1e-4
    assert float(jnp.abs(g_bptt.w_rec.weight).max()) > 1e-5
    g_eprop, m_eprop = eprop_grads(model, x, labels, reg, online=online)
    assert_trees_close(g_eprop, g_bptt)
    np.testing.assert_allclose(m_eprop.loss, m_bptt.loss, rtol=1e-5)
    assert m_eprop.correct == m_bptt.correct
    np.testing.assert_allclose(m_eprop.rate, m_bptt.rate, rtol=1e-5)


@pytest.mark.parametrize(
    ("sparse", "adaptive", "random_feedback"),
    [("slots", False, False), ("list", True, True), ("dense", True, False), ("dense", False, True)],
)
def test_eprop_online_traces_equal_the_cut_network_gradient(sparse, adaptive, random_feedback):
    """With recurrence, the forward traces and autodiff through the cut network agree."""
    model = make_model(jax.random.key(16), sparse=sparse, adaptive=adaptive, rec_scale=0.3)
    x, labels = batch(jax.random.key(17))
    reg = RateRegularisation(c_reg=0.5, f_target=20.0, tau_reg=50.0)
    feedback = jax.random.normal(jax.random.key(18), model.w_out.shape) if random_feedback else None
    g_online, m_online = eprop_grads(model, x, labels, reg, feedback, online=True)
    g_cut, m_cut = eprop_grads(model, x, labels, reg, feedback)
    assert float(m_cut.rate) > 5.0 and float(jnp.abs(g_online.w_rec.weight).max()) > 1e-5
    assert_trees_close(g_cut, g_online, rtol=2e-5)
    np.testing.assert_allclose(m_cut.loss, m_online.loss, rtol=1e-5)
    assert m_cut.correct == m_online.correct
    g_bptt, _ = bptt_grads(model, x, labels, reg)  # with recurrence e-prop is not BPTT
    assert not np.allclose(g_bptt.w_in.weight, g_cut.w_in.weight, atol=1e-4)


@pytest.mark.parametrize("adaptive", [False, True])
def test_eprop_and_bptt_agree_on_the_mean_readout_loss_without_recurrence(adaptive):
    model = make_model(jax.random.key(19), sparse="list", adaptive=adaptive)
    x, labels = batch(jax.random.key(20))
    loss = spars.learning.mean_cross_entropy
    g_bptt, m_bptt = bptt_grads(model, x, labels, loss=loss)
    g_eprop, m_eprop = eprop_grads(model, x, labels, loss=loss)
    assert_trees_close(g_eprop, g_bptt)
    y = model.run(x)[1]
    expected = -jnp.mean(jax.nn.log_softmax(y.mean(0))[jnp.arange(B), labels])
    np.testing.assert_allclose(m_bptt.loss, expected, rtol=1e-5)
    np.testing.assert_allclose(m_eprop.loss, expected, rtol=1e-5)
    per_step, _ = bptt_grads(model, x, labels)
    assert not np.allclose(per_step.w_out, g_bptt.w_out, atol=1e-5)
    with pytest.raises(ValueError, match="per_step_cross_entropy"):
        eprop_grads(model, x, labels, loss=loss, online=True)


def test_eprop_gradients_are_zero_on_padding_and_equal_in_both_layouts():
    model = make_model(jax.random.key(3), rec_scale=0.3)
    listed = make_model(jax.random.key(3), rec_scale=0.3, sparse="list")
    x, labels = batch(jax.random.key(4))
    g, _ = eprop_grads(model, x, labels, online=True)
    assert_trees_close(eprop_grads(listed, x, labels, online=True)[0], g)
    for syn, grad in ((model.w_in, g.w_in.weight), (model.w_rec, g.w_rec.weight)):
        assert not jnp.any(jnp.where(syn.conn.mask, 0.0, grad))
        assert jnp.any(grad != 0)
    too_small = eqx.tree_at(
        lambda m: m.w_in, listed, SparseSynapses(model.w_in.conn, model.w_in.weight, 2)
    )
    with pytest.raises(Exception, match="max_synapses"):
        jax.block_until_ready(eprop_grads(too_small, x, labels, online=True))


def test_eprop_with_recurrence_points_like_bptt():
    """With recurrence e-prop drops terms, yet stays aligned with the true gradient."""
    model = make_model(jax.random.key(5), rec_scale=0.3)
    x, labels = batch(jax.random.key(6))
    g_e, _ = eprop_grads(model, x, labels)
    g_b, _ = bptt_grads(model, x, labels)
    a, b = g_e.w_in.weight.ravel(), g_b.w_in.weight.ravel()
    assert float(a @ b / jnp.linalg.norm(a) / jnp.linalg.norm(b)) > 0.5
    assert_trees_close((g_e.w_out, g_e.b_out), (g_b.w_out, g_b.b_out))  # readout stays exact


def test_random_feedback_changes_only_hidden_gradients():
    model = make_model(jax.random.key(7), rec_scale=0.3)
    x, labels = batch(jax.random.key(8))
    g_sym, _ = eprop_grads(model, x, labels)
    assert_trees_close(eprop_grads(model, x, labels, feedback=model.w_out)[0], g_sym)
    feedback = jax.random.normal(jax.random.key(9), model.w_out.shape)
    g_rand, _ = eprop_grads(model, x, labels, feedback=feedback)
    assert_trees_close((g_rand.w_out, g_rand.b_out), (g_sym.w_out, g_sym.b_out))
    assert not np.allclose(g_rand.w_in.weight, g_sym.w_in.weight)
    # the hidden gradient is linear in the feedback
    g_double, _ = eprop_grads(model, x, labels, feedback=2 * feedback)
    g_zero, _ = eprop_grads(model, x, labels, feedback=0 * feedback)
    np.testing.assert_allclose(
        g_double.w_in.weight - g_zero.w_in.weight,
        2 * (g_rand.w_in.weight - g_zero.w_in.weight),
        atol=1e-6,
    )


@pytest.mark.parametrize("online", [False, True])
def test_eprop_under_jit_and_vmap(online):
    models = [make_model(k, rec_scale=0.3) for k in jax.random.split(jax.random.key(10), 2)]
    x, labels = batch(jax.random.key(11))
    arrays = [eqx.filter(m, eqx.is_array) for m in models]
    static = eqx.filter(models[0], eqx.is_array, inverse=True)
    stacked = eqx.combine(jax.tree.map(lambda *a: jnp.stack(a), *arrays), static)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def grads(model, x):
        return eprop_grads(model, x, labels, online=online)[0]

    per_net = eqx.filter_vmap(lambda m: eprop_grads(m, x, labels, online=online)[0])(stacked)
    assert per_net.w_in.weight.shape == (2, *models[0].w_in.weight.shape)
    for i, model in enumerate(models):
        one = grads(model, x)
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], per_net), one)
    grads(models[0], x + 0.0)  # same shapes: no retrace


def test_eprop_training_lowers_the_loss():
    model = make_model(jax.random.key(12), rec_scale=0.2)
    x, labels = batch(jax.random.key(13))
    params = eqx.filter(model, spars.learning.trainable(model))
    import optax

    opt = optax.adam(2e-2)
    state = opt.init(params)
    step = eqx.filter_jit(lambda m: eprop_grads(m, x, labels))
    losses = []
    for _ in range(40):
        grads, metric = step(model)
        updates, state = opt.update(grads, state)
        model = eqx.apply_updates(model, updates)
        losses.append(float(metric.loss))
    assert losses[-1] < 0.7 * losses[0]


def test_eprop_rejects_models_its_traces_do_not_describe():
    model = make_model(jax.random.key(14))
    x, labels = batch(jax.random.key(15))
    refractory = eqx.tree_at(lambda m: m.hidden.tau_refrac, model, 2.0)
    with pytest.raises(ValueError, match="refractory"):
        eprop_grads(refractory, x, labels)
    resetting = eqx.tree_at(
        lambda m: m.hidden, model, neurons.LIF(N_REC, reset_by_subtraction=False)
    )
    with pytest.raises(ValueError, match="reset by subtraction"):
        eprop_grads(resetting, x, labels)
    with pytest.raises(ValueError, match="inputs must be"):
        eprop_grads(model, x[..., :3], labels)
    with pytest.raises(ValueError, match="labels shape"):
        bptt_grads(model, x, labels[:2])
    with pytest.raises(ValueError, match="feedback shape"):
        eprop_grads(model, x, labels, feedback=jnp.zeros((2, 2)))


@pytest.mark.parametrize("layout", ["slots", "dense"])
def test_feed_forward_snn_equals_a_hand_stepped_network_and_eprop_is_exact(layout):
    ff = make_model(jax.random.key(3), sparse=layout)
    model = spars.learning.feed_forward_snn(ff.w_in, ff.w_out, ff.b_out, ff.hidden, ff.readout)
    x, labels = batch(jax.random.key(4))
    z, y = model.run(x)
    dense = np.asarray(spars.to_dense(ff.w_in.conn, ff.w_in.weight) if layout == "slots"
                       else ff.w_in.weight)  # fmt: skip
    h, v = ff.hidden.init(batch_shape=(B,)), ff.readout.init(batch_shape=(B,))
    for t in range(T):  # no recurrent input: the hidden drive is W_in x_t
        spikes, h = ff.hidden.step(h, jnp.asarray(np.asarray(x[t]) @ dense))
        v, _ = ff.readout.step(v, spikes @ ff.w_out + ff.b_out)
        np.testing.assert_array_equal(z[t], spikes)
        np.testing.assert_allclose(y[t], v, rtol=1e-5, atol=1e-6)
    assert model.w_rec.conn.max_row == 0 and float(z.mean()) > 0
    g_bptt, _ = bptt_grads(model, x, labels)
    g_eprop, _ = eprop_grads(model, x, labels)
    assert_trees_close(g_eprop, g_bptt)
    assert float(jnp.abs(g_bptt.w_in.weight).max()) > 1e-4
