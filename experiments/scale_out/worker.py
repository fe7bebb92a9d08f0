"""One device count of the study, in a process of its own (``XLA_FLAGS`` forces the devices).

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m experiments.scale_out.worker \
        '{"devices": 4, "neurons": 4096, ...}'

Prints one JSON line: per layout the time per step, the spike counts of each
device and step, and the collectives of the compiled step with their bytes.
"""

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import spars
from spars import distributed as dist

from .network import LAYOUTS, build

COLLECTIVES = ("psum", "psum_scatter", "reduce_scatter", "all_gather", "pmax", "all_to_all")


def collectives(jaxpr) -> list[dict]:
    """Every collective in ``jaxpr`` (nested jaxprs too): primitive and payload bytes."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in COLLECTIVES:
            size = sum(int(np.prod(v.aval.shape)) * v.aval.dtype.itemsize for v in eqn.invars)
            axes = str(eqn.params.get("axes", eqn.params.get("axis_name")))
            found.append({"primitive": eqn.primitive.name, "bytes": size, "axes": axes})
        for sub in _inner_jaxprs(eqn.params.values()):
            found += collectives(sub)
    return found


def _inner_jaxprs(values):
    for v in values:
        if hasattr(v, "eqns"):
            yield v
        elif hasattr(getattr(v, "jaxpr", None), "eqns"):
            yield v.jaxpr
        elif isinstance(v, tuple | list):
            yield from _inner_jaxprs(v)


def _timed(f, args, repeats: int) -> float:
    jax.block_until_ready(f(*args))  # compile and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - start)
    return best


def run_layout(cfg: dict, layout: str | None) -> dict:
    devices, steps = cfg["devices"], cfg["steps"]
    net = build(cfg["neurons"], cfg["synapses"], cfg["rate"], layout, devices, cfg["seed"])
    state = net.init(jax.random.key(cfg["seed"] + 1), (cfg["batch"],))
    if layout is None:
        f = jax.jit(lambda n, s: spars.simulate(n, s, steps))
        found = []
    else:
        mesh = dist.make_mesh((devices,), ("neurons",))
        f = jax.jit(lambda n, s: dist.simulate(n, s, steps, mesh=mesh, axis="neurons",
                                               event_capacity=cfg["event_capacity"]))  # fmt: skip
        found = collectives(jax.make_jaxpr(f)(net, state).jaxpr)
    seconds = _timed(f, (net, state), cfg["repeats"])
    spikes = {name: np.asarray(r) for name, r in f(net, state)[1].items()}
    counts = {name: s.reshape(steps, cfg["batch"], devices, -1).sum(axis=(1, 3)).tolist()
              for name, s in spikes.items()}  # fmt: skip
    return {"layout": layout or "one_device", "devices": devices,
            "ms_per_step": 1e3 * seconds / steps, "counts": counts, "collectives": found,
            "checksum": {k: int(v.sum()) for k, v in spikes.items()}}  # fmt: skip


def main(argv=None) -> list[dict]:
    cfg = json.loads((argv or sys.argv[1:])[0])
    layouts = ([None] if cfg["devices"] == 1 else []) + list(cfg.get("layouts", LAYOUTS))
    rows = [run_layout(cfg, layout) for layout in layouts]
    print(json.dumps({"device": str(jax.devices()[0].platform), "count": jax.device_count(),
                      "rows": rows}))  # fmt: skip
    return rows


if __name__ == "__main__":
    jnp.zeros(())  # start the backend before timing anything
    main()
