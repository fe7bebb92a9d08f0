"""Building and running the spars microcircuit: chunks of one compiled scan, spikes kept as events.

The network's arrays go into one compiled function as arguments (not
constants), which runs ``chunk`` steps under ``lax.scan`` and returns the
state and each population's spikes of those steps (bounded per-step lists,
:func:`spars.spike_recorder`); a progress bar advances per chunk.
"""

import math
import resource
import time
import warnings
from contextlib import contextmanager

import equinox as eqx
import jax
import numpy as np
from tqdm import tqdm

import spars

from . import model as M
from . import params as P
from .config import Config, Model

CHUNK_MS = 100.0  # biological time per compiled call [ms]


def build(m: Model, cfg: Config, progress: bool = True) -> tuple[spars.Network, dict]:
    """The network and its build figures: wall time [s], bytes of its arrays, host peak."""
    start = time.perf_counter()
    net = M.network(m, cfg, progress)
    jax.block_until_ready(jax.tree.leaves(net))
    seconds = time.perf_counter() - start
    leaves = [x for x in jax.tree.leaves(net) if hasattr(x, "nbytes")]
    return net, {"build_s": seconds, "network_bytes": int(sum(x.nbytes for x in leaves)),
                 "host_peak_bytes": peak_rss_bytes(), "projections": len(net.projections),
                 "synapses": m.n_synapses}  # fmt: skip


def peak_rss_bytes() -> int:
    """The largest resident memory this process has held so far [bytes] (Linux: KiB units)."""
    return 1024 * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def max_per_step(n: int) -> int:
    """Spikes kept per step of a population of ``n``: 5 % of it (a 500 Hz burst), at least 64."""
    return max(64, math.ceil(0.05 * n))


def simulate(net: spars.Network, cfg: Config, progress: bool = True) -> tuple[dict, dict]:
    """Warm-up then the analysed time; ``({population: (times [ms], units)}, timings)``.

    Times count from the start of the analysed window. Timings [s]: wall
    (``compile_s``, ``warmup_s``, ``sim_s``) and process CPU time
    (``*_cpu_s``, all threads: a fairer figure on a loaded machine); the
    real-time factor is the analysed window's. ``lost_spikes`` counts spikes
    beyond :func:`max_per_step` in the analysed window (missing from the
    statistics; a warning says so).
    """
    chunk, (warm, steps) = round(CHUNK_MS / P.DT), cfg.steps
    recorders = {name: spars.spike_recorder([name], max_per_step(net.populations[name].n))
                 for name in P.POPULATIONS}  # fmt: skip
    arrays, static = eqx.partition(net, eqx.is_array)
    state = net.init(jax.random.key(cfg.seed + 1))
    compiled, clock, spikes = {}, {}, {name: ([], []) for name in P.POPULATIONS}
    lost, bar = 0, tqdm(total=warm + steps, unit="step", disable=not progress)
    for begin, n_steps in _chunks(warm, chunk) + _chunks(steps, chunk, warm):
        if n_steps not in compiled:
            with _clock(clock, "compile"):
                compiled[n_steps] = _compiled(static, recorders, n_steps, arrays, state)
        with _clock(clock, "warmup" if begin < warm else "sim"):
            state, records = jax.block_until_ready(compiled[n_steps](arrays, state))
        if begin >= warm:
            lost += _collect(spikes, records, begin - warm)
        bar.update(n_steps)
    bar.close()
    if lost:
        message = f"{lost} spikes of the analysed window did not fit the records (5 % of a"
        warnings.warn(f"{message} population per step); the statistics miss them", stacklevel=2)
    events = {name: (np.concatenate(t), np.concatenate(u)) for name, (t, u) in spikes.items()}
    bio_s = steps * P.DT * 1e-3
    return events, {"compile_s": 0.0, "warmup_s": 0.0, **clock, "lost_spikes": lost,
                    "bio_s": bio_s, "real_time_factor": clock["sim_s"] / bio_s}  # fmt: skip


@contextmanager
def _clock(totals: dict, name: str):
    """Adds the block's wall time to ``totals[name_s]`` and CPU time to ``totals[name_cpu_s]``."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        for key, value in ((f"{name}_s", time.perf_counter() - wall),
                           (f"{name}_cpu_s", time.process_time() - cpu)):  # fmt: skip
            totals[key] = totals.get(key, 0.0) + value


def _compiled(static, recorders, n_steps: int, arrays, state):
    def record(s):
        return {name: r(s)[name] for name, r in recorders.items()}

    def run(arrays, state):
        return spars.simulate(eqx.combine(arrays, static), state, n_steps, record=record)

    return jax.jit(run).lower(arrays, state).compile()


def _chunks(total: int, chunk: int, first: int = 0) -> list[tuple[int, int]]:
    """``(first step, steps)`` of consecutive chunks covering ``total`` steps from ``first``."""
    return [(first + b, min(chunk, total - b)) for b in range(0, total, chunk)]


def _collect(spikes: dict, records: dict, offset: int) -> int:
    """Appends a chunk's spikes (its first step is ``offset`` of the window); returns lost."""
    lost = 0
    for name, rec in records.items():
        times, units, n_lost = spars.recorded_spikes(rec, P.DT)
        spikes[name][0].append(times + offset * P.DT)
        spikes[name][1].append(units)
        lost += n_lost
    return lost
