"""The benchmark scripts run on tiny cases and write their figures."""

import json

from experiments.benchmarks import kernels as kb
from experiments.benchmarks import propagate as benchmark
from experiments.benchmarks import rewiring as rb


def test_benchmark_writes_ratios(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark, "CASES", ((2, 50, 40, 0.2, 0.1),))
    rows = benchmark.main(["--reps", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "propagate.json").read_text())
    assert saved["rows"][0]["case"]["synapses"] == rows[0]["case"]["synapses"] > 0
    for method in ("spars", "dense", "bcoo"):
        assert rows[0][method]["forward_ms"] > 0


def test_rewiring_benchmark_writes_ratios(tmp_path, monkeypatch):
    monkeypatch.setattr(rb, "DEEP_R_CASES", ((4, 60, 50, 0.1, 2.0, 0.1, 0.05),))
    monkeypatch.setattr(rb, "COLUMN_CASE", (300, 200, 0.02, 1.5, 0.05))
    result = rb.main(["--reps", "1", "--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "rewiring.json").read_text())
    row = saved["deep_r"][0]
    assert row["rewired"] > 0 and row["failed"] == 0 and row["ratio"] > 0
    assert result["column_view"]["column_view_ms"] > 0
    assert saved["topographic"]["case"]["neurons"] == 32 * 32


def test_kernel_benchmark_writes_json_and_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(kb, "QUICK_SIZES", (300,))
    monkeypatch.setattr(kb, "PROBABILITIES", (0.05,))
    monkeypatch.setattr(kb, "RATES", (0.05,))
    monkeypatch.setattr(kb, "BATCHES", (2,))
    result = kb.main(["--quick", "--reps", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "kernels.json").read_text())
    row = saved["rows"][0]
    assert row["case"]["n"] == 300 and row["case"]["synapses"] > 0
    for method in ("spars", "spars-pull", "spars-xla", "bcoo", "dense"):
        assert row[method]["forward_ms"] > 0 and row[method]["forward_backward_ms"] > 0
    assert row["bandwidth"]["GB_per_s"] > 0 and saved["meta"]["jax"]
    assert set(result["structure"]["ms"]) == {"propagate_1pct", "remove", "add", "column_view"}
    assert (tmp_path / "kernels.png").stat().st_size > 0
    assert kb.spars.propagation.PULL_EVENTS_PER_ROW == 2.0  # restored after forcing pull
