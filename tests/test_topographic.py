import json

import jax
import numpy as np

import spars
from experiments.topographic import map as topographic_map
from experiments.topographic import metrics, model, report, scaling

TINY = ["--scale", "1", "--duration", "0.03", "--record-every", "0.01", "--timing-steps", "20"]


def test_map_run_writes_metrics_figures_and_keeps_synapse_counts(tmp_path):
    result = topographic_map.main([*TINY, "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "topographic.json").read_text())
    assert len(saved["records"]) == 4 and saved["real_time_factor"] > 0
    for name in ("connectivity", "receptive_fields", "rewiring", "degrees", "timing"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    for name in ("ff", "lat"):
        counts = [r[name]["n_synapses"] for r in result["records"]]
        totals = report.rewiring_totals(result, name)
        assert totals["added"] > 0
        assert counts[-1] - counts[0] == totals["added"] - totals["removed"]
        assert sum(result["records"][-1][name]["synapses_per_bin"]) == counts[-1]
        formed = sum(np.sum(r["period"][name]["formed"]) for r in result["records"][1:])
        assert formed == totals["added"]
    assert set(result["breakdown_s_per_model_s"]) == set(
        ["input generation", "neuron update", "event lists", "propagation", "STDP"]
        + ["structural update", "column-view rebuild"]
    )


def test_row_and_column_stdp_give_the_same_run(tmp_path):
    """The two STDP formulations (and the column view rebuilt after every rewiring)
    produce the same network, spike for spike."""
    rows = topographic_map.main([*TINY, "--out", str(tmp_path / "r"), "--no-figures"])
    cols = topographic_map.main(
        [*TINY, "--out", str(tmp_path / "c"), "--no-figures", "--stdp", "columns"]
    )
    for a, b in zip(rows["records"], cols["records"], strict=True):
        np.testing.assert_allclose(a["ff"]["weight_per_bin"], b["ff"]["weight_per_bin"], 1e-5)
        assert a["lat"]["synapses_per_bin"] == b["lat"]["synapses_per_bin"]
        assert a.get("period", {}).get("spikes") == b.get("period", {}).get("spikes")
    assert cols["breakdown_s_per_model_s"]["column-view rebuild"] > 0


def test_receptive_field_offset_hand_worked():
    """Target 0 at (0, 0): input 1 at (0, 1) with 0.1 uS, input 240 at (15, 0) -> (-1, 0)
    across the border with 0.3 uS: centroid (-0.75, 0.25), offset sqrt(0.625)."""
    p = model.MapParams(scale=1)
    conn, w = spars.from_coo([1, 240], [0, 0], (p.n, p.n), [0.1, 0.3], max_row=2)
    ff = model.Plastic(conn, w, None, None)
    offsets = np.asarray(metrics.receptive_field_offsets(p, ff))
    np.testing.assert_allclose(offsets[0], np.sqrt(0.625), rtol=1e-6)
    assert np.isnan(offsets[1:]).all()  # no inputs


def test_pairs_per_bin_counts_every_pair_once():
    p = model.MapParams(scale=1)
    assert metrics.pairs_per_bin(p, True).sum() == p.n**2
    assert metrics.pairs_per_bin(p, False).sum() == p.n**2 - p.n
    assert metrics.pairs_per_bin(p, True)[0] == p.n  # only the pair with itself at d < 1


def test_input_rates_peak_at_the_bump_and_wrap():
    p = model.MapParams(scale=1)
    rates = np.asarray(model.input_rates(p, jax.numpy.array([0.0, 0.0])))
    np.testing.assert_allclose(rates[0], p.base_rate + p.bump_rate, rtol=1e-6)
    expected = p.base_rate + p.bump_rate * np.exp(-1 / (2 * p.bump_sigma**2))
    np.testing.assert_allclose(rates[15], expected, rtol=1e-5)  # (0, 15): one unit away


def test_scaling_writes_a_row_per_size(tmp_path):
    result = scaling.main(
        ["--scales", "1", "--warmup", "0.002", "--duration", "0.005"]
        + ["--timing-steps", "20", "--out", str(tmp_path)]
    )
    assert [r["scale"] for r in result["rows"]] == [1]
    assert 0 <= result["rows"][0]["structural_share"] <= 1
    assert (tmp_path / "scaling.png").stat().st_size > 0
