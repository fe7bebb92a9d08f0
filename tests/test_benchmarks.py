"""The benchmark scripts run on tiny cases and write their figures."""

import json

import pytest

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


def test_peer_benchmark_writes_every_section(tmp_path, monkeypatch):
    from experiments import benchmarks
    from experiments.benchmarks import __main__ as peers
    from experiments.benchmarks import brunel

    tiny = {"lif_loop": dict(n=500, steps=50), "scaling": (300, 600), "brunel": ((500,), 100.0)}
    monkeypatch.setattr(peers, "QUICK", tiny)
    monkeypatch.setattr(brunel, "run_nest", lambda *a, **k: None)  # NEST: not in CI
    # propagate's row runs in test_benchmark_writes_ratios
    out = peers.main(["--quick", "--reps", "1", "--skip", "propagate", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "peers.json").read_text())
    assert set(saved) == {"meta", "lif_loop", "scaling", "brunel"} and benchmarks is not None
    assert out["lif_loop"][0]["spars"]["ms_per_step"] > 0
    assert 0.001 < out["lif_loop"][0]["case"]["spiking"] < 0.1
    assert [r["case"]["n"] for r in out["scaling"]] == [300, 600]
    row = out["brunel"][0]
    assert row["spars"]["rate_hz"] > 1 and 0.2 < row["spars"]["cv"] < 1.5
    assert row["nest_1t"] is None


def test_brunel_statistics_of_known_trains():
    import numpy as np

    from experiments.benchmarks.brunel import Brunel, statistics

    p = Brunel(n=2, t_sim=1000.0)
    regular = np.arange(10.0, 1000.0, 20.0)  # 50 Hz, CV 0
    rng = np.random.default_rng(0)
    poisson = np.sort(rng.uniform(0, 1000.0, 2000))  # 2 kHz, CV ~ 1
    times = np.concatenate([regular, poisson])
    units = np.repeat([0, 1], [regular.size, poisson.size])
    stats = statistics(p, times, units)
    assert stats["rate_hz"] == (regular.size + poisson.size) / 2
    assert abs(stats["cv"] - 0.5) < 0.05  # mean of 0 and ~1


def test_propagation_methods_timed_alone(monkeypatch):
    from experiments.benchmarks import __main__ as peers

    monkeypatch.setattr(benchmark, "CASES", ((2, 50, 40, 0.2, 0.1),))
    args = peers.parse_args(["--quick", "--reps", "1", "--skip", "lif_loop", "scaling",
                             "brunel", "--only", "spars", "dense"])  # fmt: skip
    row = peers.run(args)["propagate"][0]
    assert set(row) == {"case", "spars", "dense"} and row["dense"]["forward_ms"] > 0
    with pytest.raises(SystemExit):
        peers.parse_args(["--only", "dense"])
