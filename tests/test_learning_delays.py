"""RecurrentSNN with delayed synapses: a hand-stepped history, BPTT and e-prop gradients."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars.learning import bptt_grads, eprop_grads

from .test_learning import N_OUT, N_REC, B, batch, make_model

MAX_DELAY = 5


def with_delays(model, kind: str, seed: int = 0):
    """The model with random delays in ``[1, MAX_DELAY]`` on both sparse projections."""
    rng = np.random.default_rng(seed)

    def delayed(syn):
        mask = np.asarray(syn.conn.mask)
        if kind == "int":
            d = np.where(mask, rng.integers(1, MAX_DELAY + 1, mask.shape), 0).astype(np.int32)
        elif kind == "ones":
            d = mask.astype(np.int32)
        else:
            d = np.where(mask, rng.uniform(1.1, MAX_DELAY - 0.1, mask.shape), 0.0)
            d = d.astype(np.float32)
        return dataclasses.replace(syn, delay=jnp.asarray(d), max_delay=MAX_DELAY)

    return dataclasses.replace(model, w_in=delayed(model.w_in), w_rec=delayed(model.w_rec))


def short_batch(key, steps: int = 16):
    x, labels = batch(key)
    return x[:steps], labels


def test_delayed_recurrent_snn_equals_hand_stepped_history():
    model = with_delays(make_model(jax.random.key(0), rec_scale=0.8), "int")
    x, _ = short_batch(jax.random.key(1))
    z, y = jax.jit(lambda m, x: m.run(x))(model, x)
    dense = {}
    for name in ("w_in", "w_rec"):
        syn = getattr(model, name)
        w, d = (np.asarray(spars.to_dense(syn.conn, v)) for v in (syn.weight, syn.delay))
        dense[name] = [w * (d == k) for k in range(MAX_DELAY + 1)]
    h, v_out, spikes = model.hidden.init(batch_shape=(B,)), model.readout.init(batch_shape=(B,)), []
    for t in range(x.shape[0]):
        drive = np.zeros((B, N_REC), np.float32)
        for k in range(1, MAX_DELAY + 1):
            if t - k + 1 >= 0:  # input of step s arrives at s + d - 1
                drive += np.asarray(x[t - k + 1]) @ dense["w_in"][k]
            if t - k >= 0:  # hidden spikes of step s arrive at s + d
                drive += spikes[t - k] @ dense["w_rec"][k]
        z_t, h = model.hidden.step(h, jnp.asarray(drive))
        v_out, _ = model.readout.step(v_out, z_t @ model.w_out + model.b_out)
        spikes.append(np.asarray(z_t))
    np.testing.assert_array_equal(z, np.stack(spikes))
    np.testing.assert_allclose(y[-1], v_out, rtol=1e-5, atol=1e-5)
    assert float(z.sum()) > 0


@pytest.mark.parametrize("rule", [bptt_grads, eprop_grads])
def test_one_step_delays_equal_no_delays(rule):
    model = make_model(jax.random.key(2), rec_scale=0.8)
    x, labels = short_batch(jax.random.key(3))
    plain, _ = rule(model, x, labels)
    delayed, _ = rule(with_delays(model, "ones"), x, labels)
    for name in ("w_in", "w_rec"):
        np.testing.assert_allclose(getattr(delayed, name).weight, getattr(plain, name).weight,
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(delayed.w_out, plain.w_out, rtol=1e-5, atol=1e-6)


def _reference_loss(model, x, labels):
    """The readout's cross-entropy through :func:`spars.propagate_delayed_reference`."""

    def step(carry, x_t):
        h, v_out, z_prev, buffers = carry
        drive, new = 0.0, []
        pairs = zip((model.w_in, model.w_rec), (x_t, z_prev), buffers, strict=True)
        for syn, spikes, buffer in pairs:
            buffer = spars.propagate_delayed_reference(syn.conn, syn.weight, syn.delay, spikes,
                                                       buffer)  # fmt: skip
            current, buffer = buffer.pop()
            drive, new = drive + current, [*new, buffer]
        z, h = model.hidden.step(h, drive)
        v_out, _ = model.readout.step(v_out, z @ model.w_out + model.b_out)
        return (h, v_out, z, new), v_out

    buffers = [spars.delay_buffer(MAX_DELAY, N_REC, (B,)) for _ in range(2)]
    start = (model.hidden.init(batch_shape=(B,)), model.readout.init(batch_shape=(B,)),
             jnp.zeros((B, N_REC)), buffers)  # fmt: skip
    y = jax.lax.scan(step, start, x)[1]
    onehot = jax.nn.one_hot(labels, N_OUT)
    return -jnp.mean(jnp.sum(onehot[None] * jax.nn.log_softmax(y), -1))


def test_bptt_delay_gradients_equal_the_dense_reference_twin():
    model = with_delays(make_model(jax.random.key(4), rec_scale=0.8), "float")
    x, labels = short_batch(jax.random.key(5))
    grads, _ = bptt_grads(model, x, labels)
    ref = eqx.filter_jit(eqx.filter_grad(_reference_loss))(model, x, labels)
    for name in ("w_in", "w_rec"):
        for field in ("weight", "delay"):
            got, want = (getattr(getattr(g, name), field) for g in (grads, ref))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert (
        float(jnp.abs(grads.w_in.delay).sum()) > 0 and float(jnp.abs(grads.w_rec.delay).sum()) > 0
    )


def test_eprop_with_delays_equals_bptt_without_recurrence():
    model = with_delays(make_model(jax.random.key(6), rec_scale=0.0), "float")
    x, labels = short_batch(jax.random.key(7))
    eprop, _ = eprop_grads(model, x, labels)
    bptt, _ = bptt_grads(model, x, labels)
    for a, b in zip(jax.tree.leaves(eprop), jax.tree.leaves(bptt), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    assert float(jnp.abs(eprop.w_in.delay).sum()) > 0
    with pytest.raises(ValueError, match="online e-prop has no delays"):
        eprop_grads(model, x, labels, online=True)
