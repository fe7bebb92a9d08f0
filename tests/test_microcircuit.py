"""The microcircuit experiment: published parameters, derived quantities, statistics, a tiny run."""

import json
import math

import numpy as np
import pytest

from experiments.microcircuit import cli, stats
from experiments.microcircuit import config as C
from experiments.microcircuit import model as M
from experiments.microcircuit import params as P


def test_population_sizes_and_probabilities_are_the_published_ones():
    assert P.FULL_SIZES.sum() == 77169  # Potjans & Diesmann (2014), Table 5
    assert dict(zip(P.POPULATIONS, P.FULL_SIZES, strict=True)) == {
        "L23E": 20683, "L23I": 5834, "L4E": 21915, "L4I": 5479,
        "L5E": 4850, "L5I": 1065, "L6E": 14395, "L6I": 2948,
    }  # fmt: skip
    assert P.CONN_PROBS.shape == (8, 8)
    assert P.CONN_PROBS[0, 0] == 0.1009 and P.CONN_PROBS[4, 5] == 0.3726  # [target, source]
    assert P.CONN_PROBS[6, 7] == 0.2252 and P.CONN_PROBS[0, 5] == 0.0
    assert P.K_EXT.tolist() == [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]


def test_synapse_count_leaves_a_pair_unconnected_with_one_minus_p():
    k = P.synapse_counts(P.CONN_PROBS, P.FULL_SIZES, P.FULL_SIZES)
    pairs = np.outer(P.FULL_SIZES, P.FULL_SIZES).astype(float)
    unconnected = np.exp(k * np.log1p(-1 / pairs))  # (1 - 1/pairs)^K
    np.testing.assert_allclose(unconnected, 1 - P.CONN_PROBS, rtol=1e-12)
    # first order in 1 / pairs: K = -pairs ln(1 - p)
    np.testing.assert_allclose(k, -pairs * np.log1p(-P.CONN_PROBS), rtol=1e-6)
    assert round(k[0, 2]) == round(-20683 * 21915 * math.log(1 - 0.0437))  # L4e -> L2/3e
    assert 2.98e8 < C.model(C.Config()).n_synapses < 3.0e8  # "about 3 x 10^8"


def test_weights_are_87_8_pa_with_g_minus_4_and_the_doubled_l4e_to_l23e():
    w = P.mean_weights()
    assert w[1, 0] == pytest.approx(87.81, abs=0.01)  # the published 87.8 pA for 0.15 mV
    assert w[0, 2] == pytest.approx(2 * w[1, 0])  # L4e -> L2/3e
    others = np.ones((8, 8), bool)
    others[0, 2] = False
    np.testing.assert_allclose(w[:, 0::2][others[:, 0::2]], w[1, 0])
    np.testing.assert_allclose(w[:, 1::2], -4 * w[1, 0])


def test_psc_per_psp_gives_the_potential_peak():
    j = P.PSP_EXC * P.psc_per_psp(10.0, 0.5, 250.0)  # pA
    t = np.linspace(0, 20, 400_001)  # ms; the exact PSP of an exponential current
    v = j / 250.0 * (10 * 0.5 / 9.5) * (np.exp(-t / 10) - np.exp(-t / 0.5))
    assert v.max() == pytest.approx(0.15, rel=1e-9)


def test_delays_are_redrawn_below_half_a_step_and_rounded_like_nest():
    rng = np.random.default_rng(0)
    steps = M.draw_delay_steps(rng, 1.5, 400_000)
    assert steps.dtype == np.int32 and steps.min() == 1
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = lambda d: (d - 1.5) / 0.75  # noqa: E731
    kept = 1 - phi(z(0.05))
    for k in (1, 15, 30):  # P(k dt - dt/2 <= d < k dt + dt/2 | d >= dt/2)
        p = (phi(z(k * 0.1 + 0.05)) - phi(z(max(k * 0.1 - 0.05, 0.05)))) / kept
        assert np.mean(steps == k) == pytest.approx(p, abs=5 * math.sqrt(p / steps.size))


def test_weights_keep_their_sign_with_10_percent_spread():
    rng = np.random.default_rng(1)
    for mean in (87.8, -351.2):
        w = M.draw_weights(rng, mean, 200_000)
        assert w.dtype == np.float32 and np.all(np.sign(w) == np.sign(mean))
        assert w.mean() == pytest.approx(mean, rel=2e-3)
        assert w.std() == pytest.approx(0.1 * abs(mean), rel=1e-2)


def _mean_input(m: C.Model) -> np.ndarray:
    """Mean synaptic plus DC current [pA] at the published full-scale rates."""
    in_degree = m.synapses / m.sizes[:, None]
    rec = (in_degree * m.weights * P.RATES_NEST3).sum(axis=1)
    ext = m.k_ext * m.weight_ext * P.BG_RATE if m.poisson else 0.0
    return 1e-3 * P.NEURON["tau_syn"] * (rec + ext) + m.dc


@pytest.mark.parametrize("poisson", [True, False])
def test_in_degree_scaling_keeps_the_mean_input(poisson):
    full = C.model(C.Config(poisson=poisson))
    scaled = C.model(C.Config(k_scale=0.25, poisson=poisson))
    np.testing.assert_allclose(scaled.weights, 2 * full.weights)  # 1 / sqrt(0.25)
    np.testing.assert_allclose(_mean_input(scaled), _mean_input(full), rtol=1e-3)
    if not poisson:  # the DC that stands for the Poisson input: 8 Hz x K_ext x w x tau_syn
        assert full.dc[0] == pytest.approx(8 * 1600 * full.weight_ext * 0.5e-3)


@pytest.mark.parametrize(
    "settings, message",
    [(dict(n_scale=0.0), "n_scale"), (dict(n_scale=1.5), "n_scale"),
     (dict(k_scale=-0.1), "k_scale"), (dict(n_scale=1e-4), "leaves no neuron"),
     (dict(v0="uniform"), "v0"), (dict(t_sim=0.0), "t_sim")],
)  # fmt: skip
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        C.model(C.Config(**settings))
    with pytest.raises(SystemExit):
        cli.main(["--scale", "0"])


def test_tiny_network_has_every_pairs_synapses_weights_and_delays():
    cfg = C.Config(n_scale=0.01, k_scale=0.01)
    m = C.model(cfg)
    net = M.network(m, cfg, progress=False)
    counts = np.zeros((8, 8), int)
    for name, proj in net.projections.items():
        if name.startswith("bg_"):
            continue
        t, s = P.POPULATIONS.index(proj.post), P.POPULATIONS.index(proj.pre)
        mask = np.asarray(proj.conn.mask)
        w, d = np.asarray(proj.weights), np.asarray(proj.delays)
        counts[t, s] += mask.sum()
        assert np.all(np.sign(w[mask]) == np.sign(m.weights[t, s])) and np.all(w[~mask] == 0)
        assert d[mask].min() >= 1 and np.all(d[~mask] == 0)
    np.testing.assert_array_equal(counts, m.synapses)
    assert net.populations["L23E"].v_init_normal == P.V0_OPTIMIZED[0]


def test_statistics_of_known_trains():
    times = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 14.0, 50.0])
    units = np.array([0, 0, 0, 0, 1, 1, 1, 2])  # regular; ISIs 1 and 3; one spike
    assert stats.rate(times, 4, 1000.0) == 2.0
    assert stats.cv_isi(times, units) == pytest.approx(np.mean([0.0, 1 / 2]))
    assert math.isnan(stats.cv_isi(times[-1:], units[-1:]))
    rng = np.random.default_rng(2)
    n, duration = 500, 20_000.0
    poisson_t = rng.uniform(0, duration, 100_000)
    poisson_u = rng.integers(0, n, poisson_t.size)
    assert stats.cv_isi(poisson_t, poisson_u) == pytest.approx(1.0, abs=0.03)
    assert stats.synchrony(poisson_t, poisson_u, n, duration) == pytest.approx(1.0, abs=0.05)
    bursts = np.repeat(rng.choice(np.arange(1.5, duration, 3.0), 200, replace=False), 20)
    counts = np.histogram(bursts, np.arange(0, duration + 1.5, 3.0))[0]
    expected = counts.var() / counts.mean()  # 20 neurons firing together
    assert stats.synchrony(bursts, np.tile(np.arange(20), 200), 20, duration) == expected


def test_tiny_run_writes_summary_and_figures(tmp_path):
    out = tmp_path / "mc"
    summary = cli.main(["--scale", "0.01", "--k-scale", "0.002", "--t-presim", "20",
                        "--t-sim", "50", "--out", str(out), "--no-progress"])  # fmt: skip
    saved = json.loads((out / "summary.json").read_text())
    assert saved["neurons"] == np.round(0.01 * P.FULL_SIZES).sum()
    assert saved["synapses"] == summary["synapses"] == C.model(C.Config(0.01, 0.002)).n_synapses
    assert set(saved["populations"]) == set(P.POPULATIONS)
    assert saved["timing"]["lost_spikes"] == 0 and saved["timing"]["sim_s"] > 0
    assert all(row["rate_hz"] >= 0 and "within" in row for row in saved["populations"].values())
    for name in ("raster.png", "rates.png"):
        assert (out / name).stat().st_size > 0
