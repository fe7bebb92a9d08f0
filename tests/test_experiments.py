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


TINY = ["--train-samples", "96", "--test-samples", "40", "--hidden", "24", "--batch", "16"]


def test_classifier_writes_metrics_figures_and_summary(tmp_path):
    from experiments import classifier

    out = tmp_path / "clf"
    result = classifier.main([*TINY, "--epochs", "2", "--out", str(out)])
    assert [(r["rule"], r["connectivity"]) for r in result["summary"]] == [
        ("eprop", c) for c in ("deep_r", "dense", "sparse")
    ]
    for name in ("summary.json", "summary.csv", "accuracy.png", "rewiring.png", "weights.png"):
        assert (out / name).stat().st_size > 0
    run = json.loads((out / "eprop_deep_r_seed0" / "metrics.json").read_text())
    assert len(run["epochs"]) == 2 and len(run["rewiring"]) == 2 * (96 // 16)
    first = run["epochs"][0]
    assert 0 <= first["test_accuracy"] <= 1 and first["weight_bytes"] > 0
    assert first["removed"] == first["added"] + first["failed"]  # DEEP R keeps the count
    assert run["epochs"][-1]["synapses"] == result["records"][2]["epochs"][0]["synapses"]
    csv_lines = (out / "eprop_dense_seed0" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss") and len(csv_lines) == 3


def test_classifier_resume_continues_bit_for_bit(tmp_path):
    from experiments import classifier

    args = [*TINY, "--rule", "eprop", "--connectivity", "deep_r"]
    classifier.main([*args, "--epochs", "2", "--out", str(tmp_path / "straight")])
    classifier.main([*args, "--epochs", "1", "--out", str(tmp_path / "resumed")])
    classifier.main([*args, "--epochs", "2", "--out", str(tmp_path / "resumed"), "--resume"])
    runs = [tmp_path / k / "eprop_deep_r_seed0" for k in ("straight", "resumed")]
    saved = [(r / "checkpoint.eqx").read_bytes() for r in runs]
    assert saved[0] == saved[1]  # parameters, connectivity, optimizer moments, noise key
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs]
    for key in ("train_loss", "test_accuracy", "removed", "synapses"):
        assert [e[key] for e in metrics[0]["epochs"]] == [e[key] for e in metrics[1]["epochs"]]
    assert metrics[0]["rewiring"] == metrics[1]["rewiring"]


def test_classifier_benchmark_times_every_connectivity(tmp_path):
    from experiments import classifier_benchmark

    argv = ["--steps", "20", "--batch", "2", "--hidden", "32", "--inputs", "40", "--reps", "1"]
    rows = classifier_benchmark.main([*argv, "--rule", "bptt", "--out", str(tmp_path)])
    assert [r["connectivity"] for r in rows] == ["dense", "sparse", "deep_r"]
    assert rows[0]["synapses"] == 40 * 32 + 32 * 32 > rows[1]["synapses"] > 0
    assert 0 < rows[2]["rewire_share"] < 1
    assert json.loads((tmp_path / "classifier_step.json").read_text())["rows"] == rows


def test_kernel_benchmark_writes_json_and_figure(tmp_path, monkeypatch):
    from experiments import kernel_benchmark as kb

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
