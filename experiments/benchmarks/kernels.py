"""Kernel benchmark: propagation, structural scans and column view vs peers.

    python -m experiments.benchmarks.kernels [--quick] [--out results/kernel_benchmark]

For every case (neurons n -> n, connection probability p, spiking fraction,
batch) it times one propagation step, forward and forward+backward, for
spars (Pallas kernels on CUDA), spars forced onto its XLA path, spars
pulling through a column view, a dense matmul, ``jax.experimental.sparse``
BCOO and brainevent's CSR (when installed). It reports the achieved memory
bandwidth of spars for the bytes the step must touch, as a fraction of the
card's nominal peak and of a measured device copy, and the push/pull ratio
against events per presynaptic row (the figure that sets
``spars.propagation.PULL_EVENTS_PER_ROW``). At the largest size it times
the structural scans (remove, add) and the column-view build against one
propagation step. Writes ``kernels.json`` and ``kernels.png``.

The full grid (1k-100k neurons) is meant for a GPU; ``--quick`` runs a
small grid that finishes on a CPU, where the Pallas kernels are not used.
"""

import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

import spars
from experiments.benchmarks.peers import brainevent_forward, peak_bandwidth
from experiments.common.timing import parse_args, run_meta, time_call
from spars import kernels

SIZES, QUICK_SIZES = (1_000, 10_000, 100_000), (1_000, 4_000)
PROBABILITIES = (0.1, 0.01, 0.001)
RATES = (0.01, 0.05)
BATCHES = (1, 32)
MAX_SYNAPSES = 200_000_000  # larger projections are skipped (memory)
MAX_DENSE_BYTES = 4 * 2**30


def cases(sizes):
    """``(n, p, rate, batch)`` with at most :data:`MAX_SYNAPSES` synapses."""
    grid = itertools.product(sizes, PROBABILITIES, RATES, BATCHES)
    return [c for c in grid if c[0] ** 2 * c[1] <= MAX_SYNAPSES]


def make_case(key, n, p, rate, batch):
    k_conn, k_w, k_s, k_r = jax.random.split(key, 4)
    conn = spars.fixed_probability(k_conn, n, n, p)
    weights = jnp.where(conn.mask, jax.random.normal(k_w, conn.indices.shape), 0.0)
    spikes = (jax.random.uniform(k_s, (batch, n)) < rate).astype(jnp.float32)
    return conn, weights, spikes, jax.random.normal(k_r, (batch, n))


def methods(conn, weights, with_dense: bool):
    """``name -> (forward(w, s), weights in that layout, backend)``; backend "pull" forces pull."""
    columns = spars.column_view(conn)
    pre, post, w = spars.to_coo(conn, weights)
    coo = jnp.asarray(np.stack([pre, post], axis=1), jnp.int32)
    found = {
        "spars": (lambda w_, s: spars.propagate(conn, w_, s), weights, "auto"),
        "spars-pull": (
            lambda w_, s: spars.propagate(conn, w_, s, columns=columns), weights, "pull"),
        "spars-xla": (lambda w_, s: spars.propagate(conn, w_, s), weights, "xla"),
        "bcoo": (lambda d, s: s @ sparse.BCOO((d, coo), shape=conn.shape), jnp.asarray(w), "auto"),
    }
    if with_dense:
        found["dense"] = (lambda w_, s: s @ w_, spars.to_dense(conn, weights), "auto")
    peer = brainevent_forward(pre, post, w, conn.shape)
    if peer is not None:
        found["brainevent"] = peer + ("auto",)
    return found


def time_method(fwd, w, spikes, probe, backend: str, reps: int) -> dict:
    """Forward and forward+backward [ms], traced under ``backend``; None where it fails."""
    out = {}
    threshold = spars.propagation.PULL_EVENTS_PER_ROW
    if backend == "pull":  # read when tracing: 0 makes every step pull
        spars.propagation.PULL_EVENTS_PER_ROW, backend = 0.0, "auto"
    try:
        with kernels.backend(backend):
            loss = jax.jit(jax.grad(lambda w_, s: jnp.vdot(fwd(w_, s), probe), argnums=(0, 1)))
            for name, f in (("forward_ms", jax.jit(fwd)), ("forward_backward_ms", loss)):
                try:
                    out[name] = time_call(f, w, spikes, reps=reps)
                except Exception as error:  # a peer without gradients, out of memory, ...
                    out[name] = None
                    out[name + "_error"] = f"{type(error).__name__}: {error}"[:200]
    finally:
        spars.propagation.PULL_EVENTS_PER_ROW = threshold
    return out


def touched_bytes(conn, spikes) -> int:
    """Bytes one push step must touch: spiking rows' indices + weights, spikes, output."""
    events = float(jnp.sum(spikes != 0))
    mean_row = float(conn.n_synapses) / max(conn.n_pre, 1)
    return int(events * mean_row * 8 + spikes.size * 4 + spikes.shape[0] * conn.n_post * 4)


def run_case(key, case, reps: int, peak: dict) -> dict:
    n, p, rate, batch = case
    conn, weights, spikes, probe = make_case(key, n, p, rate, batch)
    row = {
        "case": {"n": n, "p": p, "spiking": rate, "batch": batch,
                 "synapses": int(conn.n_synapses), "max_row": conn.max_row,
                 "events_per_row": float(jnp.sum(spikes != 0)) / n},
    }
    with_dense = n * n * 4 <= MAX_DENSE_BYTES
    for name, (fwd, w, backend) in methods(conn, weights, with_dense).items():
        row[name] = time_method(fwd, w, spikes, probe, backend, reps)
    seconds = row["spars"]["forward_ms"] * 1e-3
    row["bandwidth"] = {"bytes": touched_bytes(conn, spikes)}
    row["bandwidth"]["GB_per_s"] = row["bandwidth"]["bytes"] / seconds / 1e9
    for ref, gbs in peak.items():
        row["bandwidth"][f"fraction_of_{ref}"] = row["bandwidth"]["GB_per_s"] / gbs if gbs else None
    return row


def time_structure(key, n: int, p: float, reps: int) -> dict:
    """Remove 5% of synapses, add 4 per row, rebuild the column view; vs one step at 1%."""
    conn, weights, spikes, _ = make_case(key, n, p, 0.01, 1)
    keep = jax.random.uniform(jax.random.fold_in(key, 1), conn.indices.shape) > 0.05
    targets = jax.random.randint(jax.random.fold_in(key, 2), (n, 4), 0, n)
    max_col = int(jnp.max(spars.in_degree(conn))) + 8
    steps = {
        "propagate_1pct": (lambda c, w: spars.propagate(c, w, spikes)),
        "remove": (lambda c, w: spars.structure.remove(c, keep, w)),
        "add": (lambda c, w: spars.structure.add(c, targets, w)),
        "column_view": (lambda c, w: spars.column_view(c, max_col=max_col)),
    }
    times = {name: time_call(jax.jit(f), conn, weights, reps=reps) for name, f in steps.items()}
    base = times["propagate_1pct"]
    return {"n": n, "p": p, "ms": times, "per_propagation_step": {
        k: v / base for k, v in times.items()}}


def print_row(row: dict) -> None:
    c = row["case"]
    print(f"\nn={c['n']} p={c['p']} {100 * c['spiking']:.0f}% spiking batch {c['batch']} "
          f"({c['synapses']} synapses, {c['events_per_row']:.2f} events/row)")
    ref = row["spars"]
    head = ("method", "fwd [ms]", "x spars", "fwd+bwd [ms]", "x spars")
    print("  {:11s} {:>9s} {:>8s} {:>13s} {:>8s}".format(*head))
    for name, r in row.items():
        if name in ("case", "bandwidth"):
            continue
        cells = []
        for key in ("forward_ms", "forward_backward_ms"):
            t = r.get(key)
            cells += ["-", "-"] if t is None else [f"{t:.3f}", f"{t / ref[key]:.2f}"]
        print(f"  {name:11s} {cells[0]:>9s} {cells[1]:>8s} {cells[2]:>13s} {cells[3]:>8s}")
    b = row["bandwidth"]
    fractions = ", ".join(f"{k[12:]} {v:.1%}" for k, v in b.items()
                          if k.startswith("fraction_of_") and v is not None)
    print(f"  spars forward: {b['GB_per_s']:.1f} GB/s of touched bytes ({fractions})")


def main(argv=None) -> dict:
    args, reps = parse_args(
        argv, __doc__, quick_help="a small grid for a CPU", out="results/kernel_benchmark"
    )
    peak = peak_bandwidth()
    print("memory bandwidth [GB/s]: " + ", ".join(f"{k} {v:.0f}" for k, v in peak.items() if v))
    sizes = QUICK_SIZES if args.quick else SIZES
    rows = []
    for n, case in enumerate(cases(sizes)):
        rows.append(run_case(jax.random.fold_in(jax.random.key(args.seed), n), case, reps, peak))
        print_row(rows[-1])
    big = max(sizes)
    p_big = min(p for p in PROBABILITIES if big * big * p <= MAX_SYNAPSES)
    structure = time_structure(jax.random.key(args.seed + 1), big, p_big, reps)
    print(f"\nstructure at n={big}, p={p_big}: " + ", ".join(
        f"{k} {v:.3f} ms ({structure['per_propagation_step'][k]:.2f} steps)"
        for k, v in structure["ms"].items()))
    result = {"meta": {**run_meta(reps), "peak_GB_per_s": peak}, "rows": rows,
              "structure": structure, "pull_crossover": pull_crossover(rows)}
    print(f"pull beats push from {result['pull_crossover']} events per row (None: never)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kernels.json").write_text(json.dumps(result, indent=1))
    from experiments.benchmarks.kernel_report import plot

    plot(result, args.out / "kernels.png")
    print(f"wrote {args.out / 'kernels.json'} and {args.out / 'kernels.png'}")
    return result


def pull_crossover(rows) -> float | None:
    """The fewest events per row at which pulling was faster than pushing (CUDA only)."""
    if jax.default_backend() != "gpu":
        return None  # off CUDA both run the XLA push
    wins = [r["case"]["events_per_row"] for r in rows
            if r["spars-pull"]["forward_ms"] < r["spars"]["forward_ms"]]
    return min(wins) if wins else None


if __name__ == "__main__":
    main()
