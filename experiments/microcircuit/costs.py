"""Where a microcircuit step's time goes: the network with and without its parts.

    python -m experiments.microcircuit.costs                # full scale
    python -m experiments.microcircuit.costs --scale 0.1 --k-scale 0.1

Times one step (median over repetitions of a compiled ``--steps``-step scan,
after a warm-up that leaves the initial transient behind) of four networks
made from one build:

- ``full``: the model as it runs;
- ``silent_projections``: every recurrent projection, but no input and every
  neuron at rest, so nothing spikes: the cost of the projections' calls and
  walks over their presynaptic neurons, the delay rings and the neurons;
- ``inputs_only``: the neurons with their background input, no recurrent
  projections;
- ``neurons_silent``: the neurons alone, at rest.

``full - silent_projections - (inputs_only - neurons_silent)`` is then the
cost of the synaptic events themselves. Writes ``costs.json`` to ``--out``.
"""

import argparse
import dataclasses
import time
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

import spars

from . import model as M
from . import params as P
from . import report
from .config import Config, model


def variants(net: spars.Network) -> dict[str, spars.Network]:
    """The four networks of the module docstring, sharing ``net``'s arrays."""
    neurons = {name: net.populations[name] for name in P.POPULATIONS}
    at_rest = {name: dataclasses.replace(pop, bias=0.0, v_init_normal=None)
               for name, pop in neurons.items()}  # fmt: skip
    recurrent = {k: v for k, v in net.projections.items() if not k.startswith("bg_")}
    background = {k: v for k, v in net.projections.items() if k.startswith("bg_")}
    sources = {k: v for k, v in net.populations.items() if k.startswith("bg_")}
    return {
        "full": net,
        "silent_projections": spars.Network(at_rest, recurrent),
        "inputs_only": spars.Network({**neurons, **sources}, background),
        "neurons_silent": spars.Network(at_rest, {}),
    }


def step_time(net: spars.Network, n_steps: int, warm_steps: int, reps: int, seed: int) -> dict:
    """Median wall and CPU time per step [ms], and the compile time [s]."""
    arrays, static = eqx.partition(net, eqx.is_array)

    def run(arrays, state):
        return spars.simulate(eqx.combine(arrays, static), state, n_steps, record=lambda s: ())[0]

    state = net.init(jax.random.key(seed))
    start = time.perf_counter()
    compiled = jax.jit(run).lower(arrays, state).compile()
    compile_s = time.perf_counter() - start
    for _ in range(max(1, -(-warm_steps // n_steps))):
        state = jax.block_until_ready(compiled(arrays, state))
    wall, cpu = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        state = jax.block_until_ready(compiled(arrays, state))
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"wall_ms_per_step": 1e3 * float(np.median(wall)) / n_steps,
            "cpu_ms_per_step": 1e3 * float(np.median(cpu)) / n_steps,
            "compile_s": compile_s, "projections": len(net.projections)}  # fmt: skip


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="neuron numbers, in (0, 1]")
    p.add_argument("--k-scale", type=float, default=1.0, help="in-degrees, in (0, 1]")
    p.add_argument("--dc", action="store_true", help="DC background instead of Poisson input")
    p.add_argument("--steps", type=int, default=500, help="steps per timed call")
    p.add_argument("--warm-up", type=float, default=200.0, help="[ms] before timing")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/microcircuit"))
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config(n_scale=args.scale, k_scale=args.k_scale, poisson=not args.dc, seed=args.seed)
    m = model(cfg)
    net = M.network(m, cfg)
    print(f"{m.sizes.sum()} neurons, {m.n_synapses:,} synapses, {len(net.projections)} "
          f"projections; load average {report.machine()['load_average'][0]:.2f}")  # fmt: skip
    warm = round(args.warm_up / P.DT)
    rows = {}
    for name, variant in variants(net).items():
        rows[name] = step_time(variant, args.steps, warm, args.reps, args.seed + 1)
        r = rows[name]
        print(f"  {name:20s} {r['wall_ms_per_step']:7.3f} ms/step wall "
              f"{r['cpu_ms_per_step']:7.3f} ms/step CPU ({r['projections']} projections, "
              f"compile {r['compile_s']:.1f} s)")  # fmt: skip
    result = {"config": cfg._asdict(), "synapses": m.n_synapses, "steps": rows,
              "machine": report.machine()}  # fmt: skip
    print(f"wrote {report.save(args.out, result, 'costs.json')}")
    return result


if __name__ == "__main__":
    main()
