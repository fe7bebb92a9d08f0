import re
from pathlib import Path

import jax.numpy as jnp

import spars


def test_readme_usage_example_runs():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert float(namespace["loss"](namespace["net"])) >= 0.0


def test_write_your_own_rule_how_to_runs():
    text = (Path(__file__).parents[1] / "docs" / "structure.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[-1]
    namespace = {}
    exec(compile(code, "docs/structure.md", "exec"), namespace)
    stats = namespace["stats"]
    assert int(stats.removed) > 0 and int(stats.added) > 0


def test_learning_guide_example_runs():
    text = (Path(__file__).parents[1] / "docs" / "learning.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/learning.md", "exec"), namespace)
    model, grads = namespace["model"], namespace["grads"]
    assert float(abs(grads.w_in.weight).max()) > 0
    assert not bool((model.w_in.weight * ~model.w_in.conn.mask).any())


def test_topographic_guide_example_runs():
    text = (Path(__file__).parents[1] / "docs" / "topographic.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/topographic.md", "exec"), namespace)
    w, conn, stats = namespace["w"], namespace["conn"], namespace["stats"]
    assert float(w.max()) <= 0.2 + 1e-6 and not bool((w * ~conn.mask).any())
    assert int(stats.added) >= 0 and float(namespace["traces"].pre.sum()) > 0


def test_kernels_guide_example_runs():
    text = (Path(__file__).parents[1] / "docs" / "kernels.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/kernels.md", "exec"), namespace)
    expected = namespace["s"] @ spars.to_dense(namespace["conn"], namespace["w"])
    assert jnp.allclose(namespace["fast"], expected, atol=1e-5)


def test_delays_guide_example_runs():
    text = (Path(__file__).parents[1] / "docs" / "delays.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/delays.md", "exec"), namespace)
    conn, w, d, s = (namespace[k] for k in ("conn", "weights", "delays", "spikes"))
    one_step = spars.propagate(conn, jnp.where(d == 1, w, 0.0), s)
    assert jnp.allclose(namespace["current"], one_step) and float(one_step.sum()) > 0
    assert int(namespace["buffer"].now) == 1


def test_deep_r_guide_example_trains_only_theta_and_keeps_the_count():
    text = (Path(__file__).parents[1] / "docs" / "rules" / "deep_r.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/rules/deep_r.md", "exec"), namespace)
    state, conn, loss = namespace["state"], namespace["conn"], namespace["loss"]
    first = namespace["init"]
    assert int(state.conns["ff"].n_synapses) == int(conn.n_synapses)
    assert set(state.params) == {"ff", "out"}  # the signs are not trained
    signs = state.fixed["ff"]["sign"][state.conns["ff"].mask]
    assert bool(jnp.all(jnp.abs(signs) == 1)) and int(state.count) == 20
    before = loss({"ff": first["theta"], "out": jnp.zeros((50, 2))}, conn, first["sign"])
    after = loss(state.params, state.conns["ff"], state.fixed["ff"]["sign"])
    assert float(after) < float(before)
