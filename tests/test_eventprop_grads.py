"""EventProp's gradients: equal to BPTT through the same simulation and to finite differences."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spars import kernels
from spars.learning import RateRegularisation, bptt_grads, mean_cross_entropy, trainable
from spars.learning.eventprop import (
    ActivityFloor,
    FirstSpikeLoss,
    eventprop_grads,
    max_cross_entropy,
    rate_regulariser,
    summed_cross_entropy,
)
from tests.eventprop_nets import T, network

NO_REG = (RateRegularisation(), ActivityFloor())
CASES = {  # (w_in, w_rec, spiking readout, loss, (regulariser, activity floor))
    "dense_recurrent": ("dense", "dense", False, mean_cross_entropy, NO_REG),
    "float_delays": ("float_delays", "float_delays", False, summed_cross_entropy,
                     (RateRegularisation(), ActivityFloor(0.5, 30.0))),
    "int_delays_reg": ("int_delays", "sparse", False, max_cross_entropy,
                       (RateRegularisation(0.1, 10.0), ActivityFloor(0.2, 20.0))),
    "feedforward_first_spike": ("sparse", None, True, FirstSpikeLoss(), NO_REG),
}  # fmt: skip


@pytest.fixture(autouse=True)
def _float64_xla():
    with jax.enable_x64(True), kernels.backend("xla"):  # the Pallas branch traces float32 only
        yield


def reference_loss(model, x, labels, loss, regs):
    """The loss through the differentiable simulation plus the regulariser's surrogate term
    and the activity floor (written out here), and ``(loss + both values, spike count)``."""
    reg, floor = regs
    trace = model.simulate(x)
    counts = trace.spikes.z.sum(0)
    penalty, per_spike = rate_regulariser(counts, reg, T, model.hidden.dt)
    surrogate = jnp.sum(jax.lax.stop_gradient(trace.spikes.z * per_spike) * trace.v_free)
    nu_min = floor.f_min * T * model.hidden.dt * 1e-3
    deficit = jax.lax.stop_gradient(jnp.clip(1.0 - counts.mean(0) / nu_min, 0.0, None))
    theta = model.hidden.v_thresh - model.hidden.v_rest
    lift = floor.c * jnp.sum(deficit * (theta - trace.v_free).mean((0, 1)))
    value = loss(trace.readout, labels) + lift
    return value + surrogate, (value + penalty, counts.sum())


@eqx.filter_jit
def reference_grads(model, x, labels, loss, reg):
    """``((loss value, spike count), grads)`` by ``jax.grad`` through the simulation (BPTT)."""
    params, static = eqx.partition(model, trainable(model))
    total = lambda p: reference_loss(eqx.combine(p, static), x, labels, loss, reg)  # noqa: E731
    (_, aux), grads = eqx.filter_value_and_grad(total, has_aux=True)(params)
    return aux, grads


EVENTPROP = eqx.filter_jit(eventprop_grads)  # one compilation per network layout and loss


def _check_close(got, expected, rtol=1e-9):
    leaves = jax.tree.leaves(expected)
    assert len(jax.tree.leaves(got)) == len(leaves) >= 3
    for a, b in zip(jax.tree.leaves(got), leaves, strict=True):
        scale = float(jnp.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def _both(case, model, x, labels):
    *_, loss, reg = CASES[case]
    grads, metrics = EVENTPROP(model, x, labels, reg[0], loss=loss, max_spikes=800, floor=reg[1])
    (value, n_spikes), expected = reference_grads(model, x, labels, loss, reg)
    _check_close(grads, expected)
    np.testing.assert_allclose(metrics.loss, value, rtol=1e-12)
    return grads, int(n_spikes)


@pytest.mark.parametrize("case", CASES)
def test_equals_bptt_through_the_same_simulation(case):
    w_in, w_rec, spiking, loss, _ = CASES[case]
    model, x, labels = network(w_in, w_rec, spiking)
    grads, n_spikes = _both(case, model, x, labels)
    assert 20 < n_spikes < 400
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
    if case == "dense_recurrent":  # the library's bptt_grads on the same model: the same numbers
        _check_close(grads, eqx.filter_jit(bptt_grads)(model, x, labels, loss=loss)[0])


@pytest.mark.parametrize("case", CASES)
def test_edges_silent_saturated_and_empty_rows(case):
    """No spikes: zero hidden gradients; every neuron firing (many at a step's start, sigma
    = 0); empty input rows: zero gradient there. Each equal to BPTT (the same compilation)."""
    w_in, w_rec, spiking, *_ = CASES[case]
    model, x, labels = network(w_in, w_rec, spiking)
    grads, n_spikes = _both(case, model, 0.0 * x, labels)
    assert n_spikes == 0 and not jnp.any(grads.w_in.weight) and not jnp.any(grads.w_out)
    grads, n_spikes = _both(case, model, 40.0 * jnp.ones_like(x), labels)
    assert n_spikes > 0.75 * x.shape[0] * x.shape[1] * model.hidden.n
    if w_in != "dense":
        model, x, labels = network(w_in, w_rec, spiking, empty_rows=(0, 3))
        grads, _ = _both(case, model, x, labels)
        assert not jnp.any(grads.w_in.weight[jnp.array([0, 3])]) and jnp.any(grads.w_in.weight)


@pytest.mark.parametrize("case", ["float_delays", "feedforward_first_spike"])
def test_finite_differences_for_weights_and_delays(case):
    w_in, w_rec, spiking, loss, reg = CASES[case]
    model, x, labels = network(w_in, w_rec, spiking)
    grads, _ = EVENTPROP(model, x, labels, reg[0], loss=loss, max_spikes=800, floor=reg[1])
    value = eqx.filter_jit(lambda m: reference_loss(m, x, labels, loss, reg)[1])
    n_spikes = value(model)[1]
    wheres = {"w_in": lambda m: m.w_in.weight, "w_out": lambda m: m.w_out}
    if w_rec is not None:
        wheres["w_rec"] = lambda m: m.w_rec.weight
    if "delays" in w_in:
        wheres.update(d_in=lambda m: m.w_in.delay, d_rec=lambda m: m.w_rec.delay)
    checked = 0
    for where in wheres.values():
        g = np.asarray(where(grads))
        for flat in np.argsort(-np.abs(g).ravel())[:3]:  # the largest entries of each
            idx = np.unravel_index(flat, g.shape)
            eps = 1e-6
            up, down = (value(eqx.tree_at(where, model, where(model).at[idx].add(s)))
                        for s in (eps, -eps))  # fmt: skip
            if up[1] != n_spikes or down[1] != n_spikes:
                continue  # a spike appeared or vanished: no derivative there
            fd = (float(up[0]) - float(down[0])) / (2 * eps)
            assert fd == pytest.approx(float(g[idx]), rel=1e-5, abs=1e-7)
            checked += 1
    assert checked >= 3 * len(wheres) - 2


def test_the_activity_floor_reaches_silent_neurons():
    """Without the floor a silent neuron's input synapses get no gradient; with it, each
    synapse from an input that spiked gets a negative one (more weight, less loss), the
    neurons at or above ``f_min`` get the same gradient as without it."""
    model, x, labels = network("sparse", None)  # feed-forward: neurons independent
    model = eqx.tree_at(lambda m: m.w_in.weight, model, model.w_in.weight * 0.4)
    reg = RateRegularisation()
    plain, _ = EVENTPROP(model, x, labels, reg, loss=mean_cross_entropy, max_spikes=800)
    floor = ActivityFloor(1.0, 20.0)
    lifted, _ = EVENTPROP(model, x, labels, reg, loss=mean_cross_entropy, max_spikes=800,
                          floor=floor)  # fmt: skip
    counts = model.simulate(x).spikes.z.sum((0, 1))
    silent = np.flatnonzero(counts == 0)
    full = np.flatnonzero(counts.astype(float) / x.shape[1] >= floor.f_min * T * 1e-3)
    assert len(silent) >= 2 and len(full) >= 1
    conn = model.w_in.conn
    reached = np.isin(np.asarray(conn.indices), silent) & np.asarray(conn.mask)
    reached &= np.asarray(x.sum((0, 1)) > 0)[:, None]
    assert reached.sum() >= 3
    assert not np.any(np.asarray(plain.w_in.weight)[reached])
    assert np.all(np.asarray(lifted.w_in.weight)[reached] < 0)
    untouched = np.isin(np.asarray(conn.indices), full) & np.asarray(conn.mask)
    np.testing.assert_allclose(np.asarray(lifted.w_in.weight)[untouched],
                               np.asarray(plain.w_in.weight)[untouched], rtol=1e-12)  # fmt: skip
