"""The scale-out study runs end to end and its communication model adds up."""

import json
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.scale_out import cli, model
from spars.distributed import exchange


def test_study_writes_summary_and_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=0")  # compiled to compare
    summary = cli.main(["--devices", "2", "--neurons", "64", "--synapses", "8", "--steps", "20",
                        "--repeats", "1", "--out", str(tmp_path)])  # fmt: skip
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert {r["layout"] for r in saved["rows"]} == {"rows", "blocked"}
    rows = {r["layout"]: r for r in summary["rows"]}
    assert rows["rows"]["bytes_per_step"] == model.rows_bytes(64, 1, 2, projections=2) == 256
    assert 0 < rows["blocked"]["bytes_per_step"] <= 2 * (exchange.bitmask_bytes(32) + 4)
    assert rows["rows"]["checksum"] == rows["blocked"]["checksum"]  # same spikes
    kinds = {c["primitive"] for c in rows["rows"]["collectives"]}
    assert kinds <= {"reduce_scatter", "psum_scatter"} and kinds
    assert (tmp_path / "scale_out.png").exists()
    assert "bytes/step/device" in capsys.readouterr().out


def test_model_counts_what_each_device_sends():
    one = model.per_second(10**6, 1, rate=5.0, dt_ms=0.1, min_delay_ms=1.5)
    assert one["rows_reduce_scatter"] == one["bitmask_all_gather"] == one["nest_alltoall"] == 0
    eight = model.per_second(10**6, 8, rate=5.0, dt_ms=0.1, min_delay_ms=1.5)
    assert eight["rows_reduce_scatter"] == pytest.approx(7 / 8 * 4e6 * 1e4)
    assert eight["bitmask_all_gather"] == 7 * 125_000 / 8 * 1e4
    assert eight["nest_alltoall"] == pytest.approx(7 * 8 * 5.0 * 125_000)
    assert eight["events_all_gather"] < eight["bitmask_all_gather"] < eight["rows_reduce_scatter"]


def test_neurons_the_devices_do_not_divide_are_refused():
    with pytest.raises(SystemExit):
        cli.parse_args(["--devices", "3", "--neurons", "64"])


def test_scale_out_guide_examples_run():
    text = (Path(__file__).parents[1] / "docs" / "scale_out.md").read_text()
    namespace = {}
    for code in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(code, "docs/scale_out.md", "exec"), namespace)
    for name, spikes in namespace["one"].items():
        np.testing.assert_array_equal(namespace["spikes"][name], spikes)
    assert 0 < float(namespace["one"]["lif"].mean()) < 0.5
    stats = namespace["stats"]
    assert int(stats.removed) > 0 and int(stats.added) == int(stats.removed)
    assert float(jnp.abs(namespace["grads"].w_rec.weight).max()) > 0
