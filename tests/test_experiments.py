import json

from experiments import benchmark, quickstart


def test_quickstart_trains(capsys):
    result = quickstart.main(["--steps", "40", "--hidden", "64", "--batch", "16", "--time", "50"])
    losses = [h[0] for h in result["history"]]
    assert sum(losses[-5:]) < sum(losses[:5])  # training lowers the loss
    assert "synapses" in capsys.readouterr().out


def test_benchmark_writes_ratios(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark, "CASES", ((2, 50, 40, 0.2, 0.1),))
    rows = benchmark.main(["--reps", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "propagate.json").read_text())
    assert saved["rows"][0]["case"]["synapses"] == rows[0]["case"]["synapses"] > 0
    for method in ("spars", "dense", "bcoo"):
        assert rows[0][method]["forward_ms"] > 0


def test_rewiring_benchmark_writes_ratios(tmp_path, monkeypatch):
    from experiments import rewiring_benchmark as rb

    monkeypatch.setattr(rb, "DEEP_R_CASES", ((4, 60, 50, 0.1, 2.0, 0.1, 0.05),))
    monkeypatch.setattr(rb, "COLUMN_CASE", (300, 200, 0.02, 1.5, 0.05))
    result = rb.main(["--reps", "1", "--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "rewiring.json").read_text())
    row = saved["deep_r"][0]
    assert row["rewired"] > 0 and row["failed"] == 0 and row["ratio"] > 0
    assert result["column_view"]["column_view_ms"] > 0
    assert saved["topographic"]["case"]["neurons"] == 32 * 32
