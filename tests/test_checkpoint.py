"""spars.save / spars.load: no template, every leaf bit for bit, resuming continues exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import spars
from spars import neurons, rules


def assert_same(a, b):
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b, strict=True):
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_without_a_template_keeps_types_dtypes_and_static_fields(tmp_path):
    conn = spars.fixed_probability(jax.random.key(0), 30, 17, p=0.2, headroom=2.0)
    tree = {
        "conn": conn,
        "empty": spars.empty(0, 5, 3),
        "w": jnp.where(conn.mask, 0.5, 0.0),
        "half": jnp.arange(4, dtype=jnp.bfloat16) / 3,
        "key": jax.random.key(3),
        "old_key": jax.random.PRNGKey(4),
        "lif": neurons.LIF(17, tau_mem=15.0),
        "opt": optax.adam(1e-3).init({"w": jnp.ones((30, conn.max_row))}),
        "meta": ("label", 3, None),
    }
    path = spars.save(tmp_path / "ckpt", tree)
    assert path.name == "ckpt.npz"
    back = spars.load(path)
    assert_same(tree, back)
    assert back["conn"].n_post == 17 and isinstance(back["conn"], spars.Connectivity)
    assert back["half"].dtype == jnp.bfloat16 and back["meta"] == ("label", 3, None)
    assert jax.random.key_impl(back["key"]) == jax.random.key_impl(tree["key"])
    assert back["lif"].tau_mem == 15.0


def test_rows_of_another_capacity_load_as_saved(tmp_path):
    small = spars.fixed_probability(jax.random.key(1), 20, 20, p=0.1)
    spars.save(tmp_path / "a.npz", small)
    big = spars.fixed_probability(jax.random.key(2), 20, 20, p=0.4, headroom=3.0)
    spars.save(tmp_path / "a.npz", big)  # overwritten by a differently shaped one
    assert_same(spars.load(tmp_path / "a.npz"), big)


def test_resuming_rewired_training_is_bit_identical_to_not_stopping(tmp_path):
    key = jax.random.key(0)
    conn = spars.fixed_probability(key, 40, 30, p=0.1, headroom=3.0)
    init = rules.deep_r_init(key, conn, jnp.where(conn.mask, 0.1, 0.0))
    opt = optax.chain(rules.deep_r_l1(1e-2), optax.adam(3e-2),
                      rules.deep_r_noise(3e-2, 0.0, 1e-4, jax.random.key(9)))  # fmt: skip
    train = rules.rewiring(opt, rules.deep_r, variable="theta")
    state = train.init({"ff": init["theta"]}, {"ff": conn}, {"ff": {"sign": init["sign"]}})
    spikes = (jax.random.uniform(key, (4, 40)) < 0.3).astype(jnp.float32)

    @jax.jit
    def step(k, state):
        def loss(p):
            w = rules.deep_r_weights({"theta": p["ff"], "sign": state.fixed["ff"]["sign"]})
            return jnp.sum(jnp.sin(spars.propagate(state.conns["ff"], w, spikes)))

        return train.update(k, jax.grad(loss)(state.params), state)[0]

    keys = jax.random.split(jax.random.key(1), 10)
    straight = state
    for k in keys:
        straight = step(k, straight)
    resumed = state
    for k in keys[:5]:
        resumed = step(k, resumed)
    spars.save(tmp_path / "run", resumed)
    resumed = spars.load(tmp_path / "run.npz")
    for k in keys[5:]:
        resumed = step(k, resumed)
    assert_same(straight, resumed)
    assert not np.array_equal(straight.conns["ff"].indices, conn.indices)  # it did rewire


def test_bad_files_and_unpicklable_trees_raise_clear_errors(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="not a spars checkpoint"):
        spars.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="cannot save this tree's structure"):
        spars.save(tmp_path / "f", {"fn": lambda x: x, "w": jnp.ones(2)})
