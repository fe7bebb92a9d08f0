"""Delayed propagation: a NumPy loop, finite differences, kernels, jit/vmap/scan, bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import kernels
from spars.kernels import delayed as KD
from spars.kernels._events import event_list

from .test_kernels import CAPACITY, CPU_MODES, INTERPRET, MODES, make_projection, make_spikes

MAX_DELAY = 5


def random_delays(conn, kind: str, seed: int = 2, max_delay: int = MAX_DELAY, edge: bool = True):
    """Delays in [1, D] on real slots (int or float; some at D if ``edge``), 0 in padding."""
    rng = np.random.default_rng(seed)
    if kind == "int":
        d = rng.integers(1, max_delay + 1, conn.indices.shape).astype(np.int32)
    else:
        d = rng.uniform(1, max_delay, conn.indices.shape).astype(np.float32)
        d[(rng.random(d.shape) < 0.1) & edge] = max_delay  # the top edge is allowed
    return jnp.asarray(np.where(np.asarray(conn.mask), d, 0).astype(d.dtype))


def numpy_push(conn, weights, delays, spikes, values, now):
    """Each spike's row added at ``now + d - 1`` (split between two slots for float ``d``)."""
    out = np.array(values, np.float64)
    idx, length = np.asarray(conn.indices), np.asarray(conn.row_length)
    w, d, s = np.asarray(weights), np.asarray(delays), np.asarray(spikes)
    n_slots = out.shape[1]
    for b in range(s.shape[0]):
        for i in range(conn.n_pre):
            for k in range(length[i]):
                if s[b, i] == 0:
                    continue
                lo = (
                    int(d[i, k])
                    if d.dtype.kind == "i"
                    else int(min(np.floor(d[i, k]), n_slots - 1))
                )
                frac = float(d[i, k]) - lo
                out[b, (now + lo - 1) % n_slots, idx[i, k]] += w[i, k] * s[b, i] * (1 - frac)
                out[b, (now + lo) % n_slots, idx[i, k]] += w[i, k] * s[b, i] * frac
    return out


def buffer_with(values, now):
    values = jnp.asarray(values, jnp.float32)
    return spars.DelayBuffer(values.reshape(*values.shape[:-2], -1), now, values.shape[-2])


CASES = [("mixed", "random", 3), ("empty rows", "none", 2), ("full rows", "all", 1),
         ("long rows", "random", 2)]  # fmt: skip


@pytest.mark.parametrize("kind", ["int", "float"])
@pytest.mark.parametrize("case,pattern,batch", CASES)
@pytest.mark.parametrize("mode", ["xla", *MODES, *CPU_MODES])
def test_propagate_delayed_equals_numpy_loop(case, pattern, batch, kind, mode):
    conn, w, _ = make_projection(case)
    delays = random_delays(conn, kind)
    spikes = make_spikes(pattern, batch, conn.n_pre)
    values = np.random.default_rng(3).normal(size=(batch, MAX_DELAY, conn.n_post))
    with kernels.backend(mode):
        out = jax.jit(spars.propagate_delayed)(conn, w, delays, spikes, buffer_with(values, 3))
    expected = numpy_push(conn, w, delays, spikes, values, 3)
    np.testing.assert_allclose(out.slots, expected, rtol=1e-5, atol=1e-5)
    assert int(out.now) == 3
    ref = spars.propagate_delayed_reference(conn, w, delays, spikes, buffer_with(values, 3))
    np.testing.assert_allclose(ref.slots, expected, rtol=1e-5, atol=1e-5)


def test_one_step_delays_equal_propagate_and_pop_returns_the_slot():
    conn, w, _ = make_projection("mixed")
    spikes = make_spikes("random", 4, conn.n_pre)
    ones = jnp.where(conn.mask, 1, 0)
    buffer = spars.propagate_delayed(
        conn, w, ones, spikes, spars.delay_buffer(3, conn.n_post, (4,))
    )
    current, buffer = buffer.pop()
    np.testing.assert_allclose(current, spars.propagate(conn, w, spikes), rtol=1e-6, atol=1e-6)
    assert int(buffer.now) == 1 and not np.any(buffer.values)


def test_pop_reads_clears_and_advances_around_the_ring():
    values = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    buffer = buffer_with(values, 2)
    for step, slot in enumerate([2, 0, 1]):
        current, buffer = buffer.pop()
        np.testing.assert_array_equal(current, values[:, slot])
        assert int(buffer.now) == (3 + step) % 3
    assert not np.any(buffer.values)


def _loss(conn, weights, delays, spikes, values, now=3):
    buffer = spars.DelayBuffer(values.reshape(values.shape[0], -1), now, values.shape[1])
    out = spars.propagate_delayed(conn, weights, delays, spikes, buffer).slots
    c = jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape)
    return jnp.sum(c * out**2)


ONE_SHOT_MODES = [(m, KD.ONE_SHOT) for m in MODES + CPU_MODES]


@pytest.mark.parametrize("mode,one_shot", [("xla", 0), ("xla", KD.ONE_SHOT), *ONE_SHOT_MODES])
def test_gradients_equal_central_differences(mode, one_shot, monkeypatch):
    monkeypatch.setattr(KD, "ONE_SHOT", one_shot)  # 0: the event-driven, blocked backward pass
    with jax.enable_x64(True), kernels.backend(mode):
        conn, w, _ = make_projection("mixed", seed=4)
        w = w.astype(jnp.float64)
        delays = random_delays(conn, "float", edge=False).astype(jnp.float64)
        spikes = jnp.asarray(make_spikes("random", 2, conn.n_pre), jnp.float64)
        values = jnp.asarray(np.random.default_rng(5).normal(size=(2, MAX_DELAY, conn.n_post)))
        args = (w, delays, spikes, values)
        loss = jax.jit(lambda *a: _loss(conn, *a))
        grads = jax.grad(loss, argnums=(0, 1, 2, 3))(*args)
        rng = np.random.default_rng(6)
        for which, grad in enumerate(grads):
            mask = np.asarray(conn.mask) if which < 2 else np.ones(args[which].shape, bool)
            candidates = np.argwhere(mask)
            for pos in candidates[rng.choice(len(candidates), 8, replace=False)]:
                fd = _central_difference(loss, args, which, tuple(pos))
                np.testing.assert_allclose(grad[tuple(pos)], fd, rtol=1e-6, atol=1e-8)
        assert float(jnp.abs(grads[1]).sum()) > 0


def _central_difference(f, args, which, pos, eps=1e-6):
    step = jnp.zeros(args[which].shape, args[which].dtype).at[pos].set(eps)
    shifted = [[a + sign * step if n == which else a for n, a in enumerate(args)]
               for sign in (1, -1)]  # fmt: skip
    return (f(*shifted[0]) - f(*shifted[1])) / (2 * eps)


def test_integer_delays_give_weight_and_spike_gradients():
    conn, w, dense = make_projection("mixed")
    ones = jnp.where(conn.mask, 1, 0)
    spikes = jnp.asarray(make_spikes("random", 2, conn.n_pre))

    def delayed(w, s):
        buffer = spars.propagate_delayed(conn, w, ones, s, spars.delay_buffer(2, conn.n_post, (2,)))
        return jnp.sum(jnp.sin(buffer.pop()[0]))

    def plain(w, s):
        return jnp.sum(jnp.sin(spars.propagate(conn, w, s)))

    for got, want in zip(jax.grad(delayed, (0, 1))(w, spikes), jax.grad(plain, (0, 1))(w, spikes),
                         strict=True):  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_under_vmap_and_scan_equals_loop():
    conn, w, _ = make_projection("empty rows")
    delays = random_delays(conn, "int")
    trains = jnp.asarray(np.random.default_rng(7).random((6, 3, conn.n_pre)) < 0.3, jnp.float32)

    def run(train):  # one sample: [T, n_pre]
        def step(buffer, s):
            buffer = spars.propagate_delayed(conn, w, delays, s, buffer)
            current, buffer = buffer.pop()
            return buffer, current

        return jax.lax.scan(step, spars.delay_buffer(MAX_DELAY, conn.n_post), train)[1]

    got = jax.jit(jax.vmap(run, in_axes=1, out_axes=1))(trains)
    values, want = np.zeros((3, MAX_DELAY, conn.n_post)), []
    for t in range(trains.shape[0]):
        values = numpy_push(conn, w, delays, trains[t], values, t % MAX_DELAY)
        want.append(values[:, t % MAX_DELAY].copy())
        values[:, t % MAX_DELAY] = 0
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("interpret", INTERPRET)
@pytest.mark.parametrize("kind", ["int", "float"])
def test_push_kernel_equals_twin(kind, interpret):
    conn, w, _ = make_projection("long rows")
    delays = random_delays(conn, kind)
    flat = jnp.asarray(make_spikes("random", 3, conn.n_pre))
    ids, count = event_list(flat, CAPACITY)
    ring = jnp.asarray(np.random.default_rng(8).normal(size=(3, MAX_DELAY, conn.n_post)),
                       jnp.float32)  # fmt: skip
    args = (conn.indices, w, delays, flat, ring, jnp.int32(4))
    kernel = KD.push_delayed(ids, count, conn.row_length, *args, capacity=CAPACITY,
                             interpret=interpret)  # fmt: skip
    twin = KD.push_delayed_reference(ids, count, *args, capacity=CAPACITY)
    np.testing.assert_allclose(kernel, twin, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["int", "float"])
def test_push_kernel_lowers_for_cuda(kind):
    conn, w, _ = make_projection("mixed")
    delays = random_delays(conn, kind)
    flat = jnp.asarray(make_spikes("random", 3, conn.n_pre))
    ids, count = event_list(flat, CAPACITY)
    ring = jnp.zeros((3, MAX_DELAY, conn.n_post))

    def f(*a):
        return KD.push_delayed(*a, capacity=CAPACITY)

    args = (ids, count, conn.row_length, conn.indices, w, delays, flat, ring, jnp.int32(1))
    assert "triton" in jax.jit(f).trace(*args).lower(lowering_platforms=("cuda",)).as_text()


def test_bad_delays_and_buffers_raise_clear_errors():
    conn, w, _ = make_projection("mixed")
    spikes = make_spikes("random", 2, conn.n_pre)
    buffer = spars.delay_buffer(MAX_DELAY, conn.n_post, (2,))
    good = random_delays(conn, "int")
    row = int(np.argmax(np.asarray(conn.row_length) > 0))
    for bad, match in (
        (
            good.at[row, 0].set(MAX_DELAY + 1),
            rf"delays\[{row}, 0\] = 6 is outside \[1, max_delay=5\]",
        ),
        (good.at[row, 0].set(0), r"is outside \[1, max_delay=5\]"),
        (good.astype(jnp.float32).at[row, 0].set(jnp.nan), "is outside"),
    ):
        with pytest.raises(ValueError, match=match):
            spars.propagate_delayed(conn, w, bad, spikes, buffer)
    padding = np.argwhere(~np.asarray(conn.mask))[0]
    with pytest.raises(ValueError, match="padding slot, which must hold 0"):
        spars.validate_delays(conn, good.at[tuple(padding)].set(2), MAX_DELAY)
    with pytest.raises(ValueError, match="buffer shape"):
        spars.propagate_delayed(conn, w, good, spikes, spars.delay_buffer(MAX_DELAY, conn.n_post))
    with pytest.raises(ValueError, match="delays shape"):
        spars.propagate_delayed(conn, w, good[:, :2], spikes, buffer)
    with pytest.raises(ValueError, match="max_delay must be an int >= 1"):
        spars.delay_buffer(0, 3)
    checked = jax.jit(lambda d: spars.validate_delays(conn, d, MAX_DELAY))
    with pytest.raises(
        (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError), match="delays outside"
    ):
        checked(good.at[row, 0].set(9)).block_until_ready()
