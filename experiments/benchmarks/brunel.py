"""A Brunel (2000) network in spars and in NEST, side by side on this machine.

    python -m experiments.benchmarks.brunel [--quick] [--sizes 10000 50000] [--threads 1 2]

80 % excitatory, 20 % inhibitory current-based LIF neurons with delta
synapses (NEST's ``iaf_psc_delta``: a spike moves the membrane by ``J``),
fixed in-degree ``C_E`` from the excitatory and ``C_I`` from the inhibitory
population (no multapses), inhibition ``g`` times stronger, one delay
``D``, and independent Poisson drive of ``eta`` times the threshold rate,
``dt`` 0.1 ms (Brunel's model A in the asynchronous irregular state). In
spars: two ``LIF`` populations, four delayed projections from
``fixed_in_degree``, a ``PoissonSource(counts=True)`` per population joined
``OneToOne``, and bounded spike records. In NEST (when ``nest-simulator`` is
installed): the same model built with NEST's own rules, on 1 and 2 threads.
Both report the mean rate, the mean CV of inter-spike intervals, and wall
times: building, spars' compilation, and the simulation itself.
"""

import argparse
import json
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import spars
from spars import neurons


class Brunel(NamedTuple):
    n: int = 10_000  # neurons, 80 % excitatory
    c_e: int = 80  # excitatory inputs per neuron
    c_i: int = 20  # inhibitory inputs per neuron
    j: float = 0.5  # excitatory weight [mV]
    g: float = 8.0  # relative inhibition
    eta: float = 1.5  # external rate / threshold rate
    delay: float = 1.5  # [ms]
    dt: float = 0.1  # [ms]
    t_sim: float = 1000.0  # [ms]
    tau_m: float = 20.0  # [ms]
    theta: float = 20.0  # threshold [mV] (rest 0)
    v_reset: float = 10.0  # [mV]
    t_ref: float = 2.0  # [ms]

    @property
    def sizes(self) -> dict[str, int]:
        n_e = int(round(0.8 * self.n))
        return {"E": n_e, "I": self.n - n_e}

    @property
    def external_rate(self) -> float:
        """Poisson drive per neuron [Hz]: ``eta`` x threshold rate x ``C_E``."""
        nu_threshold = self.theta / (self.j * self.c_e * self.tau_m)  # [1/ms]
        return self.eta * nu_threshold * self.c_e * 1e3

    @property
    def steps(self) -> int:
        return int(round(self.t_sim / self.dt))


def spars_network(p: Brunel, key) -> spars.Network:
    """The model as a spars network (module docstring)."""
    sizes, steps = p.sizes, int(round(p.delay / p.dt))
    populations, projections = {}, {}
    for name, n in sizes.items():
        populations[name] = neurons.LIF(n, tau_mem=p.tau_m, v_thresh=p.theta, v_reset=p.v_reset,
                                        tau_refrac=p.t_ref, dt=p.dt, v_init=(0.0, p.theta))
        populations[f"drive_{name}"] = neurons.PoissonSource(n, rate=p.external_rate, dt=p.dt,
                                                             counts=True)  # fmt: skip
        projections[f"drive_{name}"] = spars.OneToOne(f"drive_{name}", name, p.j)
    for k, (pre, post) in enumerate([(a, b) for a in sizes for b in sizes]):
        c, w = (p.c_e, p.j) if pre == "E" else (p.c_i, -p.g * p.j)
        conn = spars.fixed_in_degree(jax.random.fold_in(key, k), sizes[pre], sizes[post], c)
        mask = conn.mask
        projections[f"{pre}{post}"] = spars.Projection(
            pre, post, conn, jnp.where(mask, w, 0.0), jnp.where(mask, steps, 0), steps)
    return spars.Network(populations, projections)


def run_spars(p: Brunel, seed: int = 0) -> dict:
    """Builds, compiles and runs the spars network; rates, CVs and wall times."""
    start = time.perf_counter()
    net = spars_network(p, jax.random.key(seed))
    state = net.init(jax.random.key(seed + 1))
    jax.block_until_ready(state)
    build = time.perf_counter() - start
    keep = {name: max(64, int(n * 200 * p.dt * 1e-3 * 4)) for name, n in p.sizes.items()}
    record = _recorder(keep)
    run = jax.jit(lambda s: spars.simulate(net, s, p.steps, record=record))
    start = time.perf_counter()
    compiled = run.lower(state).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _, rec = jax.block_until_ready(compiled(state))
    sim = time.perf_counter() - start
    spikes = {name: spars.recorded_spikes(r, p.dt) for name, r in rec.items()}
    lost = sum(s[2] for s in spikes.values())
    if lost:
        raise RuntimeError(f"{lost} spikes did not fit the record; raise its size")
    times = np.concatenate([s[0] for s in spikes.values()])
    units = np.concatenate([s[1] + (p.sizes["E"] if name == "I" else 0)
                            for name, s in spikes.items()])  # fmt: skip
    return {"build_s": build, "compile_s": compile_s, "sim_s": sim, **statistics(p, times, units)}


def _recorder(keep: dict[str, int]):
    recorders = {name: spars.spike_recorder([name], k) for name, k in keep.items()}
    return lambda s: {name: r(s)[name] for name, r in recorders.items()}


def statistics(p: Brunel, times, units) -> dict:
    """Mean rate [Hz] and the mean CV of inter-spike intervals (neurons with >= 3 spikes)."""
    rate = len(times) / p.n / (p.t_sim * 1e-3)
    order = np.lexsort((times, units))
    times, units = np.asarray(times)[order], np.asarray(units)[order]
    cvs = []
    for neuron in np.unique(units):
        isi = np.diff(times[units == neuron])
        if isi.size >= 2:
            cvs.append(isi.std() / isi.mean())
    return {"rate_hz": rate, "cv": float(np.mean(cvs)) if cvs else float("nan"),
            "spikes": len(times)}  # fmt: skip


def run_nest(p: Brunel, threads: int, seed: int = 0) -> dict | None:
    """The same model in NEST on ``threads`` threads, or None without NEST."""
    try:
        import nest
    except ImportError:
        return None
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": p.dt, "local_num_threads": threads, "rng_seed": seed + 1,
                          "print_time": False})  # fmt: skip
    start = time.perf_counter()
    cells = {"V_th": p.theta, "V_reset": p.v_reset, "E_L": 0.0, "tau_m": p.tau_m,
             "t_ref": p.t_ref, "C_m": 1.0}  # fmt: skip
    pops = {name: nest.Create("iaf_psc_delta", n, params=cells) for name, n in p.sizes.items()}
    for pop in pops.values():
        pop.V_m = nest.random.uniform(0.0, p.theta)
    drive = nest.Create("poisson_generator", params={"rate": p.external_rate})
    recorder = nest.Create("spike_recorder")
    for pre, post in [(a, b) for a in pops for b in pops]:
        c, w = (p.c_e, p.j) if pre == "E" else (p.c_i, -p.g * p.j)
        nest.Connect(pops[pre], pops[post], {"rule": "fixed_indegree", "indegree": c,
                                             "allow_multapses": False},
                     {"weight": w, "delay": p.delay})  # fmt: skip
    for pop in pops.values():
        nest.Connect(drive, pop, syn_spec={"weight": p.j, "delay": p.dt})
        nest.Connect(pop, recorder)
    build = time.perf_counter() - start
    start = time.perf_counter()
    nest.Simulate(p.t_sim)
    sim = time.perf_counter() - start
    events = recorder.get("events")
    units = np.asarray(events["senders"]) - min(pop.global_id for pop in pops["E"])
    return {"build_s": build, "sim_s": sim, **statistics(p, events["times"], units)}


def compare(p: Brunel, threads=(1, 2), seed: int = 0) -> dict:
    """spars and NEST (on each number of ``threads``) on the same model."""
    row = {"n": p.n, "t_sim_ms": p.t_sim, "spars": run_spars(p, seed)}
    for count in threads:
        row[f"nest_{count}t"] = run_nest(p, count, seed)
    return row


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2000 neurons, 200 ms")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2],
                        help="NEST's thread counts (none: spars alone)")
    parser.add_argument("--t-sim", type=float, default=1000.0, help="[ms]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.t_sim = [2000], 200.0
    if any(n < 5 for n in args.sizes):
        parser.error("--sizes must be at least 5 neurons (4 excitatory, 1 inhibitory)")
    return args


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    rows = []
    for n in args.sizes:
        rows.append(compare(Brunel(n=n, t_sim=args.t_sim), args.threads, args.seed))
        print_row(rows[-1])
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "brunel.json"
    path.write_text(json.dumps({"jax": jax.__version__, "rows": rows}, indent=1))
    print(f"wrote {path}")
    return rows


def print_row(row: dict) -> None:
    print(f"\nBrunel network, {row['n']} neurons, {row['t_sim_ms']:.0f} ms:")
    print(f"  {'':10s} {'rate [Hz]':>9s} {'CV':>6s} {'build [s]':>9s} {'sim [s]':>8s} "
          f"{'x spars':>8s}")  # fmt: skip
    ref = row["spars"]["sim_s"]
    for name, r in row.items():
        if isinstance(r, dict):  # None: NEST is not installed
            print(f"  {name:10s} {r['rate_hz']:9.2f} {r['cv']:6.2f} {r['build_s']:9.2f} "
                  f"{r['sim_s']:8.2f} {r['sim_s'] / ref:8.2f}")  # fmt: skip
    print(f"  (spars compile {row['spars']['compile_s']:.1f} s)")


if __name__ == "__main__":
    main()
