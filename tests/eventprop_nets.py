"""Small EventProp networks shared by the EventProp tests (float64 under ``jax.enable_x64``)."""

import jax.numpy as jnp
import numpy as np

import spars
from spars import neurons
from spars.learning import DenseSynapses, SparseSynapses
from spars.learning.eventprop import EventPropSNN

N_IN, N, N_OUT, T, B = 6, 8, 3, 50, 2
CELL = dict(tau_mem=10.0, tau_syn=5.0, c_mem=1.0, v_rest=0.0, v_thresh=1.0, v_reset=0.0,
            tau_refrac=0.0, dt=1.0)  # fmt: skip


def synapses(rng, kind: str, n_pre: int, n_post: int, mean: float, std: float, seed: int,
             empty=()):  # fmt: skip
    """``dense``, ``sparse``, ``int_delays`` or ``float_delays`` (delays in [1, 5] steps)."""
    if kind == "dense":
        return DenseSynapses(jnp.asarray(rng.normal(mean, std, (n_pre, n_post))))
    conn = random_rows(
        np.random.default_rng(seed), n_pre, n_post, 0.6, max_row=n_post - 1, empty=empty
    )
    weight = jnp.where(conn.mask, jnp.asarray(rng.normal(mean, std, conn.indices.shape)), 0.0)
    if kind == "sparse":
        return SparseSynapses(conn, weight)
    draw = rng.integers(1, 6, conn.indices.shape) if kind == "int_delays" else rng.uniform(
        1.0, 5.0, conn.indices.shape)  # fmt: skip
    return SparseSynapses(conn, weight, delay=jnp.where(conn.mask, jnp.asarray(draw), 0),
                          max_delay=5)  # fmt: skip


def random_rows(rng, n_pre: int, n_post: int, p: float, max_row: int, empty=()):
    """Padded rows drawn in NumPy (cheap): about ``p n_post`` targets, rows ``empty`` empty."""
    lengths = np.minimum(rng.binomial(n_post, p, n_pre), max_row)
    lengths[list(empty)] = 0
    indices = np.full((n_pre, max_row), n_post)
    for i, k in enumerate(lengths):
        indices[i, :k] = rng.choice(n_post, k, replace=False)
    return spars.Connectivity(indices, lengths, n_post)


def network(w_in="dense", w_rec="dense", spiking_readout=False, seed=0, empty_rows=()):
    """A small network and inputs ``x [T, B, N_IN]``, labels ``[B]``; call under x64."""
    rng = np.random.default_rng(seed)
    hidden = neurons.CurrentLIF(N, **CELL)
    if spiking_readout:
        readout = neurons.CurrentLIF(N_OUT, **CELL)
        w_out = jnp.asarray(rng.normal(0.3, 0.3, (N, N_OUT)))
    else:
        readout = neurons.LeakyIntegrator(N_OUT, tau_mem=10.0, dt=1.0)
        w_out = jnp.asarray(rng.normal(0.0, 1.0, (N, N_OUT)))
    rec = None if w_rec is None else synapses(rng, w_rec, N, N, 0.0, 0.05, seed + 2)
    model = EventPropSNN(synapses(rng, w_in, N_IN, N, 0.06, 0.08, seed + 1, empty_rows), rec, w_out,
                         jnp.asarray(rng.normal(0.0, 0.1, N_OUT)), hidden, readout)  # fmt: skip
    x = jnp.asarray(rng.uniform(size=(T, B, N_IN)) < 0.2, jnp.float64)
    return model, x, jnp.array([0, 2])
