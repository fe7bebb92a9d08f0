"""The per-device structural primitives equal spars.structure on the whole projection."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

import spars
from spars import distributed as dist
from spars import structure
from spars.distributed import structure as DS
from spars.distributed._local import connectivity_spec, rows_spec

from .conftest import row_meshes
from .helpers import assert_same, projection

N_PRE, N_POST, K = 16, 10, 40


def _case():
    conn, w = projection(jax.random.key(20), N_PRE, N_POST, p=0.35, headroom=1.0)
    keep = jnp.arange(N_PRE)[:, None] >= 4  # device 0 of 4: no synapses at all
    conn, w, _ = structure.remove(conn, keep & conn.mask, w)
    return conn, {"w": w, "step": jnp.int32(5)}


def _pairs(conn):
    """Candidates with repeats, pairs already present, out-of-range ids and a row that fills."""
    k_pre, k_post = jax.random.split(jax.random.key(21))
    pre = jax.random.randint(k_pre, (K,), -1, N_PRE + 1).at[:12].set(7)
    post = jax.random.randint(k_post, (K,), 0, N_POST + 1).at[:12].set(jnp.arange(12) % 10)
    present = jnp.nonzero(conn.row_length, size=3)[0].astype(jnp.int32)
    pre = pre.at[-3:].set(present).astype(jnp.int32)
    return pre, post.at[-3:].set(conn.indices[present, 0]).astype(jnp.int32)


def _inputs(conn):
    pre, post = _pairs(conn)
    return {
        "pre": pre, "post": post, "valid": jnp.arange(K) % 7 != 3,
        "values": {"w": jnp.linspace(1.0, 2.0, K), "step": 0},
        "listed": (jnp.array([4, 4, 9, 15, 15, 3, -1, 20]), jnp.array([0, 0, 1, 2, 9, 0, 0, 0])),
        "targets": jax.random.randint(jax.random.key(22), (N_PRE, 3), 0, N_POST),
        "counts": jnp.arange(N_PRE) % 3,
        "keep": jax.random.uniform(jax.random.key(23), (N_PRE, conn.max_row)) < 0.6,
    }  # fmt: skip


def _one_device(conn, variables, x):
    pairs = (conn, x["pre"], x["post"], variables, x["values"])
    return {
        "pairs": structure.add_pairs(*pairs, valid=x["valid"]),
        "limited": structure.add_pairs(*pairs, valid=x["valid"], limit=9),
        "listed": structure.remove_listed(conn, *x["listed"], variables),
        "add": structure.add(conn, x["targets"], variables, {"w": 0.5, "step": 0},
                             valid=x["counts"]),
        "remove": structure.remove(conn, x["keep"], variables),
        "in_degree": spars.in_degree(conn),
    }  # fmt: skip


def _per_device(conn, variables, x, axis="rows"):
    pairs = (conn, x["pre"], x["post"], variables, x["values"])
    return {
        "pairs": DS.add_pairs(*pairs, valid=x["valid"], axis=axis),
        "limited": DS.add_pairs(*pairs, valid=x["valid"], limit=9, axis=axis),
        "listed": DS.remove_listed(conn, *x["listed"], variables, axis=axis),
        "add": DS.add(conn, x["targets"], variables, {"w": 0.5, "step": 0}, valid=x["counts"],
                      axis=axis),
        "remove": DS.remove(conn, x["keep"], variables, axis=axis),
        "in_degree": DS.in_degree(conn, axis),
    }  # fmt: skip


def test_primitives_equal_one_device():
    conn, variables = _case()
    x = _inputs(conn)
    want = jax.jit(_one_device)(conn, variables, x)
    stats = want["pairs"][2]
    assert int(stats.rejected) > 0 and int(stats.added) > 0 and int(stats.overflow) > 0
    assert int(want["limited"][2].added) == 9 and int(want["listed"][2]) > 0
    by_row = {"w": rows_spec(variables["w"], "rows"), "step": P()}
    rows = {k: rows_spec(x[k], "rows") for k in ("targets", "counts", "keep")}
    x_spec = {**jax.tree.map(lambda _: P(), x), **rows}
    c_spec = connectivity_spec(conn, "rows")
    outer = (c_spec, by_row, P())
    out_spec = {k: outer for k in ("pairs", "limited", "listed", "add", "remove")}
    out_spec["in_degree"] = P()
    for mesh in row_meshes():
        f = dist.shard_map(_per_device, mesh, (c_spec, by_row, x_spec), out_spec)
        assert_same(jax.jit(f)(conn, variables, x), want)


def test_weakest_selection_equals_a_stable_sort():
    """The radix select picks what a stable sort picks, ties (zeros, repeats) included."""
    from spars.distributed.select import smallest
    from spars.rules._common import smallest as by_sorting

    rng = np.random.default_rng(0)
    values = np.array([0.0, 0.5, 1.0, 2.0, 3.5, 1e-30, 7.0], np.float32)
    cases = [(jnp.asarray(rng.choice(values, (16, 5))), jnp.asarray(rng.random((16, 5)) < 0.7)),
             (jnp.abs(jax.random.normal(jax.random.key(24), (16, 5))), jnp.ones((16, 5), bool))]
    for mesh in row_meshes():
        pick = jax.jit(dist.shard_map(lambda s, m, c: smallest(s, m, c, "rows"), mesh,
                                      (P("rows"), P("rows"), P()), P("rows")))  # fmt: skip
        for score, mask in cases:
            for count in (0, 1, 3, 11, 40, 100):
                want = by_sorting(score, mask, count)
                np.testing.assert_array_equal(pick(score, mask, jnp.int32(count)), want)
