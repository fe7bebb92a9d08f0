"""Row-sharded propagation and its gradients equal one device's, on 1, 2 and 4 devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import distributed as dist

from .conftest import row_meshes
from .helpers import assert_close, assert_same, projection

N_PRE, N_POST, BATCH = 16, 12, 3


def _case():
    conn, w = projection(jax.random.key(0), N_PRE, N_POST, p=0.3)
    # rows 0..3 (all of device 0 of 4) hold no synapse: a shard with nothing to send
    keep = jnp.arange(N_PRE)[:, None] >= 4
    conn, w, _ = spars.structure.remove(conn, keep & conn.mask, w)
    return conn, w


SPIKE_PATTERNS = {
    "random": lambda: (jax.random.uniform(jax.random.key(1), (BATCH, N_PRE)) < 0.4),
    "none": lambda: jnp.zeros((BATCH, N_PRE), bool),
    "all": lambda: jnp.ones((BATCH, N_PRE), bool),
    "graded": lambda: jnp.round(4 * jax.random.uniform(jax.random.key(2), (BATCH, N_PRE))),
}


def _both(conn, w, s, mesh):
    """Sharded propagation, summed to every device and scattered by postsynaptic block."""
    return tuple(dist.propagate(conn, w, s, mesh=mesh, axis="rows", scatter=scatter)
                 for scatter in (False, True))  # fmt: skip


def test_propagate_equals_one_device():
    conn, w = _case()
    assert int(jnp.sum(conn.row_length[:4])) == 0
    for mesh in row_meshes():
        f = jax.jit(lambda c, w, s, mesh=mesh: _both(c, w, s, mesh))
        for make in SPIKE_PATTERNS.values():
            spikes = make().astype(jnp.float32)
            want = spars.propagate_reference(conn, w, spikes)
            assert_same(f(conn, w, spikes), (want, want))


def test_propagate_gradients_equal_one_device():
    conn, w = _case()
    spikes = SPIKE_PATTERNS["random"]().astype(jnp.float32)
    ramp = jnp.arange(N_POST)

    def loss(w, s):
        return jnp.sum(jnp.sin(spars.propagate(conn, w, s)) * ramp)

    want = jax.grad(loss, argnums=(0, 1))(w, spikes)
    for mesh in row_meshes():
        def sharded(w, s, mesh=mesh):
            reduced, scattered = _both(conn, w, s, mesh)
            return jnp.sum(jnp.sin(reduced) * ramp) + 2 * jnp.sum(jnp.sin(scattered) * ramp)

        got = jax.jit(jax.grad(sharded, argnums=(0, 1)))(w, spikes)
        assert_close(got, jax.tree.map(lambda g: 3 * g, want))
        assert np.all(np.asarray(got[0])[~np.asarray(conn.mask)] == 0)  # padding gets none


def test_propagate_under_vmap_and_one_spike_vector():
    conn, w = _case()
    spikes = (jax.random.uniform(jax.random.key(3), (2, BATCH, N_PRE)) < 0.5).astype(jnp.float32)
    mesh = row_meshes()[-1]
    f = jax.vmap(lambda s: dist.propagate(conn, w, s, mesh=mesh, axis="rows"))
    assert_same(jax.jit(f)(spikes), spars.propagate_reference(conn, w, spikes))
    one = spikes[0, 0]  # no batch axis
    assert_same(dist.propagate(conn, w, one, mesh=mesh, axis="rows"),
                spars.propagate_reference(conn, w, one))  # fmt: skip


def test_batch_and_rows_on_a_two_axis_mesh():
    conn, w = _case()
    spikes = (jax.random.uniform(jax.random.key(4), (4, N_PRE)) < 0.5).astype(jnp.float32)
    mesh = dist.make_mesh((2, 2), ("data", "rows"))
    for scatter in (False, True):
        got = dist.propagate(conn, w, spikes, mesh=mesh, axis="rows", batch_axis="data",
                             scatter=scatter)  # fmt: skip
        assert_same(got, spars.propagate_reference(conn, w, spikes))


def test_sizes_the_mesh_does_not_divide_are_named():
    mesh = row_meshes()[-1]
    conn, w = projection(jax.random.key(5), 10, 12, p=0.3)
    with pytest.raises(ValueError, match=r"n_pre .*\(10\) must be a multiple of the 4 devices"):
        dist.propagate(conn, w, jnp.zeros(10), mesh=mesh, axis="rows")
    conn, w = projection(jax.random.key(5), 8, 10, p=0.3)
    with pytest.raises(ValueError, match=r"n_post .*\(10\).*use 8 or 12"):
        dist.propagate(conn, w, jnp.zeros(8), mesh=mesh, axis="rows", scatter=True)
    with pytest.raises(ValueError, match="no axis 'data'"):
        dist.propagate(conn, w, jnp.zeros((4, 8)), mesh=mesh, axis="rows", batch_axis="data")
    with pytest.raises(ValueError, match="spikes shape"):
        dist.propagate(conn, w, jnp.zeros(9), mesh=mesh, axis="rows")


def test_meshes_with_explicit_axes():
    conn, w = _case()
    spikes = SPIKE_PATTERNS["random"]().astype(jnp.float32)
    explicit = jax.make_mesh((4,), ("rows",))  # Explicit axes since JAX 0.7: converted
    assert_same(dist.propagate(conn, w, spikes, mesh=explicit, axis="rows"),
                spars.propagate_reference(conn, w, spikes))  # fmt: skip
    context = getattr(jax, "set_mesh", None) or getattr(jax.sharding, "use_mesh", None)
    if context is not None and "Explicit" in str(getattr(explicit, "axis_types", "")):
        with context(explicit), pytest.raises(ValueError, match="Explicit axes"):
            dist.propagate(conn, w, spikes, mesh=explicit, axis="rows")
