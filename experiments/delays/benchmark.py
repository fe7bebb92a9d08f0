"""Delayed propagation vs one-step propagation at the sizes of ``experiments.benchmarks.propagate``.

    python -m experiments.delays.benchmark [--max-delay 16] [--reps 9] [--out results/delays]

Per case: ``--steps`` steps under ``lax.scan`` (push the spikes, read the
coming step's input) with one-step delays (:func:`spars.propagate`),
integer delays and float (learnable) delays in ``[1, max_delay]``, forward
and forward+backward, per step, and the memory of the input each variant
keeps between steps.
"""

import argparse
import json
import platform
from pathlib import Path

import jax
import jax.numpy as jnp

import spars
from experiments.benchmarks.propagate import CASES, make_case
from experiments.common.timing import time_call


def variants(conn, delays_int, delays_float, max_delay: int):
    """``name -> step(weights, spikes, buffer) -> (input, buffer)``."""

    def one_step(w, s, buffer):
        return spars.propagate(conn, w, s), buffer

    def delayed(delays):
        def step(w, s, buffer):
            return spars.propagate_delayed(conn, w, delays, s, buffer).pop()

        return step

    return {"one_step": one_step, "int_delays": delayed(delays_int),
            "float_delays": delayed(delays_float)}  # fmt: skip


def scanned(step, probe):
    """``run(w, trains, buffer) -> readout``: ``step`` over ``trains [T, B, n_pre]``."""

    def run(w, trains, buffer):
        def body(b, s):
            current, b = step(w, s, b)
            return b, jnp.vdot(current, probe)

        return jnp.sum(jax.lax.scan(body, buffer, trains)[1])

    return run


def run_case(key, case, max_delay: int, reps: int, n_steps: int) -> dict:
    conn, w, spikes, probe = make_case(key, *case)
    k_s = jax.random.fold_in(key, 8)
    trains = jax.random.uniform(k_s, (n_steps, *spikes.shape)) < case[4]
    trains = trains.astype(jnp.float32)
    k_d = jax.random.fold_in(key, 7)
    d_float = jax.random.uniform(k_d, conn.indices.shape, minval=1.0, maxval=float(max_delay))
    d_float = jnp.where(conn.mask, d_float, 0.0)
    d_int = jnp.where(conn.mask, jnp.ceil(d_float).astype(jnp.int32), 0)
    buffer = spars.delay_buffer(max_delay, conn.n_post, spikes.shape[:1])
    row = {"case": dict(zip(("batch", "n_pre", "n_post", "p", "spiking"), case, strict=True)),
           "max_delay": max_delay}  # fmt: skip
    row["case"]["synapses"] = int(conn.n_synapses)
    for name, step in variants(conn, d_int, d_float, max_delay).items():
        run = scanned(step, probe)
        grad = jax.jit(jax.grad(run, argnums=(0, 1)))
        forward = time_call(jax.jit(run), w, trains, buffer, reps=reps) / n_steps
        both = time_call(grad, w, trains, buffer, reps=reps) / n_steps
        held = buffer.values.nbytes if name != "one_step" else probe.nbytes
        row[name] = {"forward_ms": forward, "forward_backward_ms": both, "held_bytes": held}
    return row


def print_row(row: dict) -> None:
    c, base = row["case"], row["one_step"]
    print(f"B={c['batch']} {c['n_pre']}->{c['n_post']} p={c['p']} spiking {c['spiking']}, "
          f"max_delay {row['max_delay']}, per step:")  # fmt: skip
    for name in ("one_step", "int_delays", "float_delays"):
        r = row[name]
        fwd, both = r["forward_ms"], r["forward_backward_ms"]
        print(f"  {name:>12}: fwd {fwd:7.3f} ms ({fwd / base['forward_ms']:4.2f}x)"
              f"  fwd+bwd {both:7.3f} ms ({both / base['forward_backward_ms']:4.2f}x)"
              f"  held {r['held_bytes'] / 1e6:7.2f} MB")  # fmt: skip


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-delay", type=int, default=16, help="delay bound [steps]")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=50, help="steps per timed scan")
    p.add_argument("--out", type=Path, default=Path("results/delays"))
    args = p.parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} ({platform.processor()})")
    rows = []
    for i, case in enumerate(CASES):
        rows.append(run_case(jax.random.key(i), case, args.max_delay, args.reps, args.steps))
        print_row(rows[-1])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps({"rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
