"""spike_recorder: bounded per-step event lists equal the dense spike record."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import neurons
from spars.recording import recorded_spikes


def network():
    conn = spars.fixed_probability(jax.random.key(0), 40, 30, p=0.3)
    w = jnp.where(conn.mask, 0.4, 0.0)
    return spars.Network(populations={"in": neurons.PoissonSource(40, rate=100.0, dt=1.0),
                                      "lif": neurons.LIF(30, v_thresh=0.5)},
                         projections={"ff": spars.Projection("in", "lif", conn, w)})  # fmt: skip


@pytest.mark.parametrize("cap", [40, 3])
def test_recorded_events_equal_the_dense_record_and_count_what_did_not_fit(cap):
    net = network()
    state = net.init(jax.random.key(1), batch_shape=(2,))
    _, dense = jax.jit(lambda s: spars.simulate(net, s, 50))(state)
    run = jax.jit(
        lambda s: spars.simulate(net, s, 50, record=spars.spike_recorder(["in", "lif"], cap))
    )
    _, rec = run(state)
    assert set(rec) == {"in", "lif"} and rec["lif"].ids.shape == (50, 2, cap)
    for name in ("in", "lif"):
        z = np.asarray(dense[name])
        for b in range(2):
            times, units, lost = recorded_spikes(rec[name], dt=1.0, batch_index=(b,))
            steps, want_units = np.nonzero(z[:, b])
            per_step = np.bincount(steps, minlength=50)
            np.testing.assert_array_equal(np.asarray(rec[name].count)[:, b], per_step)
            keep = np.concatenate([np.arange(c) < cap for c in per_step])
            np.testing.assert_array_equal(units, want_units[keep])
            np.testing.assert_allclose(times, steps[keep] + 1.0)
            assert lost == int(np.sum(np.maximum(per_step - cap, 0)))
    assert cap == 40 or recorded_spikes(rec["in"], 1.0, (0,))[2] > 0  # the small cap overflows


def test_bad_recorder_arguments_raise():
    with pytest.raises(ValueError, match="max_per_step must be"):
        spars.spike_recorder(["lif"], 0)
    net = network()
    with pytest.raises(ValueError, match="no population named"):
        spars.simulate(net, net.init(jax.random.key(0)), 3, record=spars.spike_recorder(["x"], 4))
