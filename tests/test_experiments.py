import json

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import quickstart


def test_quickstart_trains(capsys):
    result = quickstart.main(["--steps", "40", "--hidden", "64", "--batch", "16", "--time", "50"])
    losses = [h[0] for h in result["history"]]
    assert sum(losses[-5:]) < sum(losses[:5])  # training lowers the loss
    assert "synapses" in capsys.readouterr().out






TINY = ["--train-samples", "96", "--test-samples", "40", "--hidden", "24", "--batch", "16"]


def test_classifier_writes_metrics_figures_and_summary(tmp_path):
    from experiments import classifier
    from experiments.classifier import collect

    out = tmp_path / "clf"
    result = classifier.main([*TINY, "--epochs", "2", "--out", str(out)])
    assert [(r["rule"], r["connectivity"]) for r in result["summary"]] == [
        ("-", "gru"),
        *[("eprop", c) for c in ("deep_r", "dense", "sparse")],
    ]
    for name in ("summary.json", "summary.csv", "accuracy.png", "connectivity.png",
                 "lifetimes.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0
    run = json.loads((out / "eprop_deep_r_seed0" / "metrics.json").read_text())
    assert len(run["epochs"]) == 2 and len(run["rewiring"]) == 2 * (96 // 16)
    first, last = run["epochs"]
    assert 0 <= first["test_accuracy"] <= 1 and first["weight_bytes"] > 0
    assert first["removed"] == first["added"] + first["failed"]  # DEEP R keeps the count
    assert first["removed"] == sum(sum(first["removed_by_age"][n]) for n in ("in", "rec"))
    assert sum(r[0] + r[1] for r in run["rewiring"][:6]) == first["removed"]
    assert 0 < last["informative_fraction"] <= 1 and 0 <= last["original_fraction_in"] <= 1
    assert run["epochs"][-1]["synapses"] == result["records"][2]["epochs"][0]["synapses"]
    degrees = run["final"]["in_in_degree"]
    assert len(degrees) == 24 and sum(degrees) == sum(run["final"]["in_out_degree"])
    csv_lines = (out / "eprop_dense_seed0" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss") and len(csv_lines) == 3
    gru = result["summary"][0]
    assert gru["synapses"] > 0 and result["summary"][1]["gap_to_baseline"] == pytest.approx(
        result["summary"][1]["test_accuracy_mean"] - gru["test_accuracy_mean"]
    )
    (out / "summary.json").unlink()
    assert collect.main([str(out)]) == json.loads(json.dumps(result["summary"]))
    assert (out / "summary.json").stat().st_size > 0


def test_classifier_resume_continues_bit_for_bit(tmp_path):
    from experiments import classifier

    args = [*TINY, "--rule", "eprop", "--connectivity", "deep_r", "--no-baseline", "--no-cosine"]
    classifier.main([*args, "--epochs", "2", "--out", str(tmp_path / "straight")])
    classifier.main([*args, "--epochs", "1", "--out", str(tmp_path / "resumed")])
    classifier.main([*args, "--epochs", "2", "--out", str(tmp_path / "resumed"), "--resume"])
    with pytest.raises(SystemExit, match="epochs"):  # a cosine schedule spans --epochs
        classifier.main([*args[:-1], "--epochs", "3", "--out", str(tmp_path / "resumed"),
                         "--resume"])  # fmt: skip
    runs = [tmp_path / k / "eprop_deep_r_seed0" for k in ("straight", "resumed")]
    saved = [(r / "checkpoint.eqx").read_bytes() for r in runs]
    assert saved[0] == saved[1]  # parameters, connectivity, ages, optimizer moments, noise key
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs]
    for key in ("train_loss", "test_accuracy", "removed", "synapses"):
        assert [e[key] for e in metrics[0]["epochs"]] == [e[key] for e in metrics[1]["epochs"]]
    assert metrics[0]["rewiring"] == metrics[1]["rewiring"]


@pytest.mark.parametrize("rule", ["eprop", "eventprop"])
def test_classifier_runs_on_shd_files_in_the_true_layout(tmp_path, rule):
    """``--dataset shd --data-dir``: the paper's preset, scaled down by ``--quick``."""
    from experiments import classifier
    from tests.test_data import write_shd

    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 12)):
        counts = rng.integers(5, 30, n)
        times = [np.sort(rng.uniform(0, 0.05, k)) for k in counts]
        units = [rng.integers(0, 700, k) for k in counts]
        write_shd(tmp_path / f"shd_{split}.h5", times, units, rng.integers(0, 20, n))
    args = classifier.parse_args(["--dataset", "shd", "--data-dir", str(tmp_path)])
    assert (args.neuron, args.hidden, args.batch, args.p_rec) == ("alif", 512, 512, 0.05)
    out = tmp_path / "out"
    argv = ["--dataset", "shd", "--data-dir", str(tmp_path), "--quick", "--duration", "60",
            "--batch", "8", "--hidden", "16", "--out", str(out), "--no-baseline",
            "--connectivity", "deep_r", "--rule", rule]  # fmt: skip
    result = classifier.main(argv)
    run = result["records"][0]
    neuron = "lif" if rule == "eventprop" else "alif"  # EventProp's CurrentLIF
    assert run["config"]["neuron"] == neuron and run["config"]["n_steps"] == 60
    assert len(run["epochs"]) == 2 and len(run["rewiring"]) == 2 * (40 // 8)
    with pytest.raises(SystemExit, match="shd_train.h5"):
        classifier.main(["--dataset", "shd", "--out", str(out)])


def test_gru_baseline_equals_equinox_cell_step_by_step():
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from experiments.classifier.baseline import GRUClassifier

    net = GRUClassifier(30, 8, 3, input_gain=2.0, key=jax.random.key(0))
    x = (jax.random.uniform(jax.random.key(1), (12, 5, 30)) < 0.2).astype(jnp.float32)

    def reference(x_one):  # equinox's own cell, one sample, one step at a time
        h, states = jnp.zeros(8), []
        for x_t in x_one:
            h = net.cell(2.0 * x_t, h)
            states.append(h)
        return net.readout(jnp.mean(jnp.stack(states), 0))

    expected = jnp.stack([reference(x[:, b]) for b in range(5)])
    np.testing.assert_allclose(net(x), expected, rtol=1e-5, atol=1e-6)
    grads = eqx.filter_grad(lambda n: jnp.sum(n(x) ** 2))(net)
    assert np.all(np.isfinite(grads.cell.weight_ih)) and np.any(grads.cell.weight_hh != 0)


def test_classifier_benchmark_times_every_connectivity(tmp_path):
    from experiments.classifier import benchmark

    argv = ["--steps", "20", "--batch", "2", "--hidden", "32", "--inputs", "40", "--reps", "1"]
    cases = ["--rule", "bptt", "eprop-online", "--connectivity", "dense", "deep_r"]
    rows = benchmark.main([*argv, *cases, "--out", str(tmp_path)])
    assert [(r["rule"], r["connectivity"]) for r in rows] == [
        ("bptt", "dense"), ("bptt", "deep_r"), ("eprop-online", "deep_r"),
    ]  # fmt: skip
    assert rows[0]["synapses"] == 40 * 32 + 32 * 32 > rows[1]["synapses"] > 0
    assert 0 < rows[1]["rewiring_share"] < 1 and rows[0]["rewiring_share"] == 0
    for row in rows:
        assert row["epoch_s"] > 0 and row["eval_ms"] > 0
    assert json.loads((tmp_path / "classifier_epoch.json").read_text())["rows"] == rows




def test_timing_task_puts_the_class_in_the_cue_interval_only():
    from experiments.delays import task

    x, labels = task.timing_task(0, 200, n_steps=40, n_channels=5, intervals=(3, 9), margin=5)
    assert x.shape == (200, 40, 5) and set(np.unique(labels)) == {0, 1}
    np.testing.assert_array_equal(x.sum(1), 1.0)  # every channel fires exactly once
    t_a, t_b = x[:, :, 0].argmax(1), x[:, :, 1].argmax(1)
    np.testing.assert_array_equal(t_b - t_a, np.where(labels == 0, 3, 9))
    assert t_b.max() < 40 - 5
    with pytest.raises(ValueError, match="n_steps > 14"):
        task.timing_task(0, 4, n_steps=14, intervals=(3, 9), margin=5)


def test_delays_experiment_learns_the_intervals_one_step_delays_cannot(tmp_path):
    from experiments import delays

    out = tmp_path / "delays"
    args = ["--quick", "--epochs", "6", "--test-samples", "256", "--variant", "one_step", "learned"]
    result = delays.main([*args, "--out", str(out)])
    acc = {r["variant"]: r["mean"] for r in result["summary"]}
    assert acc["one_step"] < 0.35 and acc["learned"] > acc["one_step"] + 0.25
    for name in ("summary.json", "accuracy.png", "delays.png"):
        assert (out / name).stat().st_size > 0
    learned = result["records"][1]["params"]["all_delays"]
    assert min(learned) >= 1.0 and max(learned) <= 32.0


def test_delays_experiment_rewires_with_delays(tmp_path):
    from experiments import delays

    args = ["--train-samples", "128", "--test-samples", "64", "--epochs", "1", "--hidden", "24"]
    result = delays.main([*args, "--variant", "sparse", "deep_r", "--out", str(tmp_path)])
    sparse, deep_r = result["records"]
    assert sparse["synapses"] == deep_r["synapses"] > 0  # DEEP R keeps the count
    learned = deep_r["params"]["all_delays"]
    assert len(learned) == deep_r["synapses"] and min(learned) >= 1.0 and max(learned) <= 32.0


def test_gpu_check_compares_every_kernel_and_names_the_device(tmp_path, monkeypatch):
    from experiments import gpu_check

    monkeypatch.setattr(gpu_check, "CASES", [("tiny", 12, 10, 0.3, 2.0, 2, 0.5)])
    result = gpu_check.main([str(tmp_path), "--only-kernels"])
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    assert saved["all_ok"] and saved["device_kind"] and len(saved["rows"]) == 7
    assert {r["check"] for r in result["rows"]} >= {"push", "pull", "grad", "add (append)"}
    assert gpu_check.compare(np.ones(3), np.ones(3) * 1.1) > 1e-4  # a mismatch is seen


def test_classifier_trains_with_eventprop_and_learned_delays(tmp_path):
    """DEEP R with learned delays: the rule's input gain, delays kept in range, rewiring."""
    import equinox as eqx
    import jax

    from experiments import classifier
    from experiments.classifier import cli
    from experiments.classifier import model as M

    out = tmp_path / "ep"
    argv = [*TINY, "--rule", "eventprop", "--epochs", "1", "--no-baseline", "--delays",
            "--max-delay", "4", "--connectivity", "deep_r", "--out", str(out)]
    result = classifier.main(argv)
    runs = {r["config"]["connectivity"]: r for r in result["records"]}
    for name, run in runs.items():
        config, epoch = run["config"], run["epochs"][0]
        assert config["gain_in"] == 16.0 and config["delays"] and config["rule"] == "eventprop"
        assert config["floor"] == 0.1 and config["f_min"] == 5.0
        assert 0 <= epoch["test_accuracy"] <= 1 and epoch["rate_hz"] > 0
        args = cli.parse_args(argv)
        for k, v in config.items():
            setattr(args, k, v)
        template = M.init_state(jax.random.PRNGKey(config["seed"]), args, 700, 10)
        state = eqx.tree_deserialise_leaves(out / f"eventprop_{name}_seed0" / "checkpoint.eqx",
                                            template)  # fmt: skip
        for proj, delays in M.delays_of(state.params, args).items():
            mask = state.conns[proj].mask
            assert float(delays[mask].min()) >= 1.0 and float(delays[mask].max()) <= 4.0
            assert not jnp.any(jnp.where(mask, 0.0, delays))
    assert runs["deep_r"]["epochs"][0]["removed"] > 0
    with pytest.raises(SystemExit):
        cli.parse_args(["--rule", "eventprop", "--delays"])  # dense matrices carry no delays


def test_eventprop_benchmark_reads_memory_and_time(tmp_path):
    from experiments.classifier import eventprop_benchmark as eb

    argv = ["--quick", "--hidden", "16", "--steps", "30", "--connectivity", "0.01",
            "--method", "eventprop", "bptt-exact", "--out", str(tmp_path)]  # fmt: skip
    rows = eb.main(argv)
    saved = json.loads((tmp_path / "eventprop_step.json").read_text())
    assert [r["method"] for r in saved["rows"]] == ["eventprop", "bptt-exact"] == [
        r["method"] for r in rows
    ]
    eventprop, bptt = rows
    assert eventprop["rate_hz"] == bptt["rate_hz"] > 0  # the same network and simulation
    assert 0 < eventprop["peak_mb"] < bptt["peak_mb"] and eventprop["step_ms"] > 0
    assert eventprop["record_capacity"] >= 2
