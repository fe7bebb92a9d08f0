"""Propagation speed: spars vs its XLA twin, dense matmul, BCOO and brainevent.

    python -m experiments.benchmarks.propagate [--quick] [--out results/benchmark]

Times forward and forward+backward (gradients w.r.t. weights and spikes) of
one propagation step per case and prints the ratios against spars. "spars"
is the default path (the CPU loops of ``spars.kernels.cpu`` on a CPU, the
Pallas kernels on CUDA), "spars_xla" the XLA twins it falls back to;
brainevent's event-driven CSR runs when brainevent is installed.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

import spars
from experiments.benchmarks.loops import compiled
from experiments.benchmarks.peers import brainevent_forward
from experiments.common.timing import interleaved, parse_args, run_meta

CASES = (  # (batch, n_pre, n_post, p_connect, p_spike)
    (32, 700, 512, 0.1, 0.02),
    (32, 4096, 4096, 0.01, 0.02),
    (1, 20000, 20000, 0.001, 0.01),
)


def make_case(key, batch, n_pre, n_post, p_connect, p_spike):
    k_conn, k_w, k_s, k_r = jax.random.split(key, 4)
    conn = spars.fixed_probability(k_conn, n_pre, n_post, p_connect)
    weights = jnp.where(conn.mask, jax.random.normal(k_w, conn.indices.shape), 0.0)
    spikes = (jax.random.uniform(k_s, (batch, n_pre)) < p_spike).astype(jnp.float32)
    probe = jax.random.normal(k_r, (batch, n_post))
    return conn, weights, spikes, probe


def methods(conn, weights):
    """``name -> (forward(w, s), weights in that method's layout)``."""
    pre, post, w = spars.to_coo(conn, weights)
    coo = jnp.asarray(np.stack([pre, post], axis=1), jnp.int32)

    def bcoo(data, s):
        return s @ sparse.BCOO((data, coo), shape=conn.shape)

    found = {
        "spars": (lambda w_, s: spars.propagate(conn, w_, s), weights),
        "spars_xla": (lambda w_, s: spars.propagate(conn, w_, s), weights),  # see run_case
        "dense": (lambda w_, s: s @ w_, spars.to_dense(conn, weights)),
        "bcoo": (bcoo, jnp.asarray(w)),
    }
    peer = brainevent_forward(np.asarray(pre), np.asarray(post), np.asarray(w), conn.shape)
    if peer is not None:
        found["brainevent"] = peer
    return found


def run_case(key, case, reps: int, only: tuple[str, ...] = ()) -> dict:
    """Forward and forward+backward [ms] of every method (or those in ``only``) on one
    case, timed in turns."""
    conn, weights, spikes, probe = make_case(key, *case)
    row = {"case": dict(zip(("batch", "n_pre", "n_post", "p", "spiking"), case, strict=True))}
    row["case"]["synapses"] = int(conn.n_synapses)
    calls = {}
    for name, (fwd, w) in methods(conn, weights).items():
        if only and name not in only:
            continue
        loss = jax.grad(lambda w_, s, f=fwd: jnp.vdot(f(w_, s), probe), argnums=(0, 1))
        backend = "xla" if name == "spars_xla" else "auto"
        calls[(name, "forward_ms")] = (compiled(fwd, backend, w, spikes), (w, spikes))
        calls[(name, "forward_backward_ms")] = (compiled(loss, backend, w, spikes), (w, spikes))
    for (name, what), ms in interleaved(calls, reps).items():
        row.setdefault(name, {})[what] = ms
    return row


def print_row(row: dict) -> None:
    c = row["case"]
    print(
        f"\nbatch {c['batch']}, {c['n_pre']}->{c['n_post']}, p={c['p']}, "
        f"{100 * c['spiking']:.0f}% spiking, {c['synapses']} synapses"
    )
    print(
        f"  {'method':8s} {'fwd [ms]':>10s} {'x spars':>8s} {'fwd+bwd [ms]':>13s} {'x spars':>8s}"
    )
    ref = row["spars"]
    for name in ("spars", "spars_xla", "dense", "bcoo", "brainevent"):
        if name not in row:
            continue
        r = row[name]
        print(
            f"  {name:8s} {r['forward_ms']:10.3f} {r['forward_ms'] / ref['forward_ms']:8.1f} "
            f"{r['forward_backward_ms']:13.3f} "
            f"{r['forward_backward_ms'] / ref['forward_backward_ms']:8.1f}"
        )






def main(argv=None) -> list[dict]:
    args, reps = parse_args(argv, __doc__)
    rows = []
    for n, case in enumerate(CASES):
        rows.append(run_case(jax.random.fold_in(jax.random.key(args.seed), n), case, reps))
        print_row(rows[-1])
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"meta": run_meta(reps), "rows": rows}
    (args.out / "propagate.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out / 'propagate.json'}")
    return rows


if __name__ == "__main__":
    main()
