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
