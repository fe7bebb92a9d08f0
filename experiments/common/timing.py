"""Timing shared by every study: compiled calls, side-by-side medians, the setup beside them."""

import argparse
import platform
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import jax
import numpy as np


def time_call(fn, *args, reps: int) -> float:
    """Median wall time of ``fn(*args)`` [ms] after one warm-up (compile) call."""
    return interleaved({"fn": (fn, args)}, reps)["fn"]


def interleaved(calls: dict[str, tuple[Callable, tuple]], reps: int) -> dict[str, float]:
    """Median wall time [ms] of each ``name: (fn, args)``, timed in turns.

    Each call is warmed up (compiled) first; the timed rounds then run every
    call once per round, so a change of machine load touches all of them
    alike and their ratios stay fair.
    """
    for fn, args in calls.values():
        jax.block_until_ready(fn(*args))
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, (fn, args) in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


@contextmanager
def stopwatch(totals: dict, name: str):
    """Adds the wall time [s] of the ``with`` block to ``totals[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - start


def run_meta(reps: int) -> dict:
    """JAX version, device and repetitions, saved beside every figure."""
    return {
        "jax": jax.__version__,
        "device": jax.devices()[0].device_kind,
        "machine": platform.machine(),
        "reps": reps,
    }


def parse_args(argv, doc: str, quick_help: str = "fewer repetitions",
               out: str = "results/benchmarks"):  # fmt: skip
    """The benchmarks' shared options; returns ``(args, reps)`` and prints the setup."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(out))
    args = parser.parse_args(argv)
    reps = args.reps or (5 if args.quick else 20)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; median of {reps} runs")
    return args, reps
