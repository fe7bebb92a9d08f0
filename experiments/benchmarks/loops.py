"""Propagation inside a simulation loop, and one step as the network grows: spars vs its peers.

Two rows of the peer benchmark (``python -m experiments.benchmarks``):

- ``lif_loop``: a recurrent LIF network of ``n`` neurons with fixed fan-out
  ``k`` (``spars.fixed_number_post``), about 1 % spiking, ``steps`` steps in
  one ``lax.scan``; every method runs the same neuron update and differs in
  the propagation call only.
- ``scaling``: one forward step, batch 1, fan-out ``k``, 1 % spiking, at
  growing ``n``.

Methods: spars (the platform's kernels), spars forced onto its XLA twins,
brainevent's fixed-number-per-pre format (when installed), and a dense
matmul where ``n x n`` fits in ``DENSE_MAX`` entries.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

import spars
from experiments.benchmarks.peers import brainevent_fixed_forward
from experiments.common.timing import interleaved

DENSE_MAX = 2**27  # entries of the dense matrix: 512 MB of float32


def fan_out(key, n: int, k: int, weight: float = 0.01):
    """Connectivity with ``k`` targets per neuron and its weights (all ``weight``)."""
    conn = spars.fixed_number_post(key, n, n, k)
    return conn, jnp.where(conn.mask, weight, 0.0)


def methods(conn, weights) -> dict:
    """``name -> (propagate(w, s), w in the method's layout, backend)``."""
    n = conn.n_pre
    found = {
        "spars": (lambda w, s: spars.propagate(conn, w, s), weights, "auto"),
        "spars_xla": (lambda w, s: spars.propagate(conn, w, s), weights, "xla"),
    }
    peer = brainevent_fixed_forward(conn.indices, weights, conn.shape)
    if peer is not None:
        found["brainevent"] = (*peer, "auto")
    if n * n <= DENSE_MAX:
        found["dense"] = (lambda w, s: s @ w, spars.to_dense(conn, weights), "auto")
    return found


def lif_scan(propagate, n: int, steps: int, key):
    """``run(w) -> spike counts per step``: LIF neurons driven by a cycled input table."""
    drive = 0.0975 * jax.random.uniform(key, (16, n))  # about 1 % of the neurons spike

    def step(carry, t):
        v, s, w = carry
        v = 0.95 * v + propagate(w, s) + drive[t % 16]
        spiked = (v > 1.0).astype(v.dtype)
        return (jnp.where(spiked > 0, 0.0, v), spiked, w), spiked.sum()

    def run(w):
        start = (jnp.zeros(n), jnp.zeros(n), w)
        return jax.lax.scan(step, start, jnp.arange(steps))[1]

    return run


def compiled(fn, backend: str, *args):
    """``fn`` jitted and compiled under ``backend`` (the choice is made at tracing)."""
    with spars.kernels.backend(backend) if backend != "auto" else contextlib.nullcontext():
        return jax.jit(fn).lower(*args).compile()


def lif_loop(n: int = 20_000, k: int = 20, steps: int = 1000, reps: int = 5, seed: int = 0):
    """Milliseconds per step of the LIF loop for every method, and the spiking fraction."""
    key = jax.random.key(seed)
    conn, weights = fan_out(key, n, k)
    calls, fraction = {}, None
    for name, (prop, w, backend) in methods(conn, weights).items():
        run = compiled(lif_scan(prop, n, steps, jax.random.fold_in(key, 1)), backend, w)
        calls[name] = (run, (w,))
        fraction = fraction or float(np.mean(run(w))) / n
    times = interleaved(calls, reps)
    return {"case": {"n": n, "k": k, "steps": steps, "spiking": fraction},
            **{name: {"ms_per_step": t / steps} for name, t in times.items()}}  # fmt: skip


def scaling(sizes=(10_000, 100_000, 300_000), k: int = 20, rate: float = 0.01, reps: int = 20,
            seed: int = 0) -> list[dict]:  # fmt: skip
    """Milliseconds of one forward step (batch 1) for every method at each size."""
    rows = []
    for n in sizes:
        key = jax.random.fold_in(jax.random.key(seed), n)
        conn, weights = fan_out(key, n, k)
        spikes = (jax.random.uniform(jax.random.fold_in(key, 1), (n,)) < rate).astype(jnp.float32)
        calls = {name: (compiled(prop, backend, w, spikes), (w, spikes))
                 for name, (prop, w, backend) in methods(conn, weights).items()}  # fmt: skip
        times = interleaved(calls, reps)
        rows.append({"case": {"n": n, "k": k, "spiking": rate},
                     **{name: {"forward_ms": t} for name, t in times.items()}})  # fmt: skip
    return rows
