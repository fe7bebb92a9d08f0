"""The prepared GPU check: kernels against their twins, kernel tests, the benchmarks.

    PYTHONPATH=. python -m experiments.gpu_check OUT        # on the GPU machine, < 8 min
    python -m experiments.gpu_check OUT --quick              # the rehearsal on a CPU

Needs only what the lent GPU machine has (jax with CUDA, equinox, optax,
chex, jaxtyping): no installs, no network. Steps, each logged to
``OUT/<step>.log`` and bounded in time:

1. every kernel on the default backend (Pallas on CUDA; interpret mode
   elsewhere) against its XLA twin, values and gradients, on empty, full
   and random rows, no/all/some spikes, batch 1 and 40, rows over two
   blocks -> ``OUT/gpu_check.json`` (device named);
2. the kernel tests (``tests/test_kernels.py``, ``tests/test_delays.py``),
   when pytest and hypothesis are importable;
3. ``experiments.benchmarks.kernels``, ``experiments.classifier.benchmark``,
   ``experiments.delays.benchmark`` and the spars side of
   ``experiments.benchmarks.brunel`` (a whole network, 10k and 50k neurons,
   1 s) into ``OUT``.

Exits 1 if a kernel disagrees with its twin.
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import spars
from spars import kernels, structure

CASES = [  # (name, n_pre, n_post, p, headroom, batch, spike probability)
    ("random", 300, 200, 0.05, 2.0, 4, 0.1),
    ("empty rows", 200, 100, 0.0, 1.0, 3, 0.5),
    ("full rows", 64, 48, 1.0, 1.0, 1, 1.0),
    ("no spikes", 300, 200, 0.05, 1.5, 40, 0.0),
    ("long rows", 80, 400, 0.37, 1.0, 40, 0.3),
]


def make(case, seed: int = 0):
    _, n_pre, n_post, p, headroom, batch, rate = case
    key = jax.random.key(seed)
    conn = spars.fixed_probability(key, n_pre, n_post, p=p, headroom=headroom)
    w = jnp.where(conn.mask, jax.random.normal(jax.random.fold_in(key, 1), conn.indices.shape), 0)
    s = (jax.random.uniform(jax.random.fold_in(key, 2), (batch, n_pre)) < rate).astype(jnp.float32)
    d = jax.random.uniform(jax.random.fold_in(key, 3), conn.indices.shape, minval=1.0, maxval=7.0)
    return conn, w, s, jnp.where(conn.mask, d, 0.0)


def checks(conn, w, s, d) -> dict:
    """``name -> thunk`` of everything the kernels compute."""
    probe = jnp.cos(jnp.arange(conn.n_post, dtype=jnp.float32))

    def loss(w, s):
        return jnp.sum(jnp.sin(spars.propagate(conn, w, s)) * probe)

    def delayed_loss(w, d, s):
        buffer = spars.delay_buffer(8, conn.n_post, (s.shape[0],))
        out = spars.propagate_delayed(conn, w, d, s, buffer).values
        return jnp.sum(jnp.sin(out))

    keep = jax.random.uniform(jax.random.key(5), conn.indices.shape) < 0.6
    targets = jax.random.randint(jax.random.key(6), (conn.n_pre, 4), 0, max(conn.n_post, 1))
    return {
        "push": lambda: jax.jit(spars.propagate)(conn, w, s),
        "pull": lambda: spars.propagate(conn, w, s, columns=spars.column_view(conn)),
        "grad": lambda: jax.jit(jax.grad(loss, (0, 1)))(w, s),
        "delayed push + grads": lambda: jax.jit(jax.grad(delayed_loss, (0, 1, 2)))(w, d, s),
        "remove (compact)": lambda: jax.jit(structure.remove)(conn, keep, w),
        "add (append)": lambda: jax.jit(structure.add)(conn, targets, w, 0.5),
        "column view": lambda: spars.column_view(conn),
    }


def compare(got, want) -> float:
    """Largest relative difference over the leaves (ints exactly)."""
    worst = 0.0
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            return float("inf")
        if a.size:
            worst = max(worst, float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)))
    return worst


def run_all(mode: str) -> list[dict]:
    rows = []
    for case in CASES:
        conn, w, s, d = make(case)
        for name, thunk in checks(conn, w, s, d).items():
            row = {"case": case[0], "check": name}
            start = time.perf_counter()
            try:
                with kernels.backend(mode):
                    got = jax.block_until_ready(thunk())
                with kernels.backend("xla"):
                    want = thunk()
                row["rel_error"] = compare(got, want)
                row["ok"] = row["rel_error"] <= 1e-4
            except Exception as err:  # a kernel that fails to lower or run is a finding
                row.update(ok=False, error=f"{type(err).__name__}: {err}"[:400])
                traceback.print_exc()
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(f"{'ok  ' if row['ok'] else 'FAIL'} {case[0]:>10s} | {name:<22s} "
                  f"{row.get('rel_error', float('nan')):.1e}")  # fmt: skip
    return rows


KERNEL_TESTS = ["tests/test_kernels.py", "tests/test_delays.py"]
STEPS = [  # (name, argv after "python", seconds on the GPU, extra argv for --quick): < 7 min
    ("kernel_tests", ["-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
                      *KERNEL_TESTS], 100, []),
    ("kernel_benchmark", ["-m", "experiments.benchmarks.kernels", "--out", "{out}"], 130,
     ["--quick"]),
    ("classifier_benchmark", ["-m", "experiments.classifier.benchmark", "--hidden", "256",
                              "--out", "{out}"], 100, ["--quick"]),
    ("delays_benchmark", ["-m", "experiments.delays.benchmark", "--out", "{out}"], 40,
     ["--reps", "2", "--steps", "20"]),
    ("brunel", ["-m", "experiments.benchmarks.brunel", "--threads", "--sizes", "10000", "50000",
                "--out", "{out}"], 50, ["--quick"]),
]  # fmt: skip


def self_check(out: Path) -> dict:
    """Step 1: every kernel against its twin; writes ``out/gpu_check.json``."""
    device = jax.devices()[0]
    mode = "auto" if device.platform == "gpu" else "interpret"
    print(f"{device.device_kind} ({device.platform}), jax {jax.__version__}: kernels in "
          f"{mode} mode vs the XLA twins")  # fmt: skip
    rows = run_all(mode)
    result = {"device_kind": device.device_kind, "platform": device.platform,
              "jax": jax.__version__, "mode": mode, "rows": rows,
              "all_ok": all(r["ok"] for r in rows)}  # fmt: skip
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    print(f"{sum(r['ok'] for r in rows)} passed, {sum(not r['ok'] for r in rows)} failed")
    return result


def run_step(name: str, argv: list, seconds: float, out: Path) -> dict:
    """Runs ``python argv`` with a time limit, its output to ``out/name.log``."""
    if name == "kernel_tests" and not all(
        importlib.util.find_spec(m) for m in ("pytest", "hypothesis")
    ):
        return {"step": name, "skipped": "pytest or hypothesis missing (step 1 covers the kernels)"}
    start = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        try:
            rc = subprocess.run([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT,
                                timeout=seconds).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            rc = "timeout"
    row = {"step": name, "rc": rc, "seconds": round(time.perf_counter() - start, 1)}
    print(f"{name}: rc {rc} in {row['seconds']} s (log: {out / name}.log)")
    return row


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, nargs="?", default=Path("results/gpu"))
    p.add_argument("--quick", action="store_true", help="the CPU rehearsal: small grids")
    p.add_argument("--only-kernels", action="store_true", help="step 1 alone")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = self_check(args.out)
    steps = [] if args.only_kernels else STEPS
    result["steps"] = [
        run_step(name, [a.format(out=args.out) for a in cmd] + (quick if args.quick else []),
                 seconds * (3 if args.quick else 1), args.out)
        for name, cmd, seconds, quick in steps
    ]  # fmt: skip
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["all_ok"] else 1)
