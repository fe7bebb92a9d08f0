"""Memory and time of one training step: EventProp vs BPTT vs e-prop, at 1000 steps.

    python -m experiments.classifier.eventprop_benchmark [--quick] [--hidden 256 512]

700 Poisson inputs (1.2% per step) -> recurrent hidden layer -> 20 leaky
readouts, ``--steps`` steps of 1 ms, batch 32, input and recurrent
connectivity 1% (padded rows) or 100% (dense matrices). One training step
is the gradients and an Adam update. Methods:

- ``eventprop``: :func:`~spars.learning.eventprop.eventprop_grads` on an
  EventPropSNN (CurrentLIF), its spike record sized to twice the spikes of
  the batch (``record_spikes``);
- ``bptt-exact``: ``bptt_grads`` on the same EventPropSNN (BPTT through the
  same simulation: the same gradient);
- ``bptt``: ``bptt_grads`` on the classifier's LIF network (surrogate spikes);
- ``eprop``: ``eprop_grads`` (autodiff of the cut network) on that network;
- ``eprop-online``: e-prop's per-synapse traces (1% only).

Peak memory is the compiled step's argument + output + temporary bytes
minus aliased ones (``memory_analysis``); the input spikes are uint8.
Writes ``out/eventprop_step.json``.
"""

import argparse
import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from tqdm import tqdm

from experiments.common.timing import run_meta, time_call
from spars.learning import RateRegularisation, trainable
from spars.learning.eventprop import EventPropSNN

from . import cli
from . import model as M

N_IN, N_OUT = 700, 20
METHODS = ("eventprop", "bptt-exact", "bptt", "eprop", "eprop-online")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100 steps, batch 8, hidden 64")
    p.add_argument("--method", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 512])
    p.add_argument("--connectivity", type=float, nargs="+", default=[0.01, 1.0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--gain-in", type=float, default=2.0,
                   help="input weight scale of every method (2: 10-30 Hz)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("results/eventprop"))
    if p.parse_args(argv).quick:  # explicit options still win
        p.set_defaults(steps=100, batch=8, hidden=[64], reps=1)
    args = p.parse_args(argv)
    return args


def model_args(args, hidden: int, method: str, p: float) -> argparse.Namespace:
    """The classifier's settings (LIF or CurrentLIF, 1 ms, reset to 0) at this size."""
    online = method == "eprop-online"
    margs = cli.parse_args(["--hidden", str(hidden), *(["--loss", "per_step"] if online else [])])
    margs.rule = "eventprop" if method in ("eventprop", "bptt-exact") else method.split("-")[0]
    margs.online, margs.n_steps, margs.batch = online, args.steps, args.batch
    margs.connectivity = "dense" if p >= 1 else "sparse"
    margs.p_in = margs.p_rec = p
    margs.batches_per_epoch, margs.cosine = 1, False
    margs.gain_in = args.gain_in  # Poisson inputs: far more input spikes than the manifolds
    return margs


def step_function(method: str, margs, model, reg, capacity: int):
    """``step(model, opt_state, x, labels) -> (model, opt_state, loss)``: gradients + Adam."""
    from spars.learning import bptt_grads, eprop_grads
    from spars.learning.eventprop import eventprop_grads

    loss = M.LOSSES[margs.loss]
    grads = {
        "eventprop": lambda m, x, y: eventprop_grads(m, x, y, reg, loss=loss, max_spikes=capacity),
        "bptt-exact": lambda m, x, y: bptt_grads(m, x, y, reg, loss=loss),
        "bptt": lambda m, x, y: bptt_grads(m, x, y, reg, loss=loss),
        "eprop": lambda m, x, y: eprop_grads(m, x, y, reg, loss=loss),
        "eprop-online": lambda m, x, y: eprop_grads(m, x, y, reg, loss=loss, online=True),
    }[method]
    opt = optax.adam(1e-3)

    @eqx.filter_jit
    def step(model, opt_state, x, labels):
        g, metrics = grads(model, x, labels)
        updates, opt_state = opt.update(g, opt_state, eqx.filter(model, trainable(model)))
        return eqx.apply_updates(model, updates), opt_state, metrics.loss

    return step, opt.init(eqx.filter(model, trainable(model)))


@eqx.filter_jit
def hidden_spikes(model, x):
    return model.run(x)[0].sum()


def record_spikes(model, x) -> int:
    """Twice the hidden spikes of the batch: EventProp's record capacity for it."""
    if not isinstance(model, EventPropSNN):
        return 1
    return max(1, 2 * int(hidden_spikes(model, x)))


def measure(args, hidden: int, method: str, p: float) -> dict:
    margs = model_args(args, hidden, method, p)
    key = jax.random.PRNGKey(0)
    state = M.init_state(key, margs, N_IN, N_OUT)
    model = M.build_model(state, margs, N_OUT, M.synapse_bounds(state))
    x = (jax.random.uniform(key, (args.steps, args.batch, N_IN)) < 0.012).astype(jnp.uint8)
    labels = jax.random.randint(key, (args.batch,), 0, N_OUT)
    capacity = record_spikes(model, x)
    reg = RateRegularisation(margs.c_reg, margs.f_target, margs.tau_reg)
    step, opt_state = step_function(method, margs, model, reg, capacity)
    stats = step.lower(model, opt_state, x, labels).compile().compiled.memory_analysis()
    peak = (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes)  # fmt: skip
    ms = time_call(lambda m: step(m, opt_state, x, labels), model, reps=args.reps)
    rate = float(hidden_spikes(model, x)) / x.shape[1] / model.hidden.n / args.steps
    return {"hidden": hidden, "connectivity": p, "method": method, "step_ms": ms,
            "peak_mb": peak / 2**20, "temp_mb": stats.temp_size_in_bytes / 2**20,
            "argument_mb": stats.argument_size_in_bytes / 2**20,
            "rate_hz": rate * 1e3 / margs.dt,
            "record_capacity": capacity if method == "eventprop" else None}  # fmt: skip


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    meta = {**run_meta(args.reps), "steps": args.steps, "batch": args.batch, "inputs": N_IN}
    print(f"{N_IN} -> hidden -> {N_OUT}, {args.steps} steps, batch {args.batch}; "
          f"jax {meta['jax']} on {meta['device']}; median of {args.reps}")  # fmt: skip
    cases = [(h, p, m) for h in args.hidden for p in args.connectivity for m in args.method
             if not (m == "eprop-online" and p >= 1)]  # dense traces: minutes per step  # fmt: skip
    rows = [measure(args, h, m, p) for h, p, m in tqdm(cases, desc="cases")]
    for row in rows:
        print(format_row(row, rows))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "eventprop_step.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {path}")
    return rows


def format_row(row: dict, rows: list[dict]) -> str:
    """One line; the memory ratio is BPTT's (same network) over this method's."""
    ref = [r for r in rows if r["method"] == "bptt-exact" and r["hidden"] == row["hidden"]
           and r["connectivity"] == row["connectivity"]]  # fmt: skip
    ratio = f" ({ref[0]['peak_mb'] / row['peak_mb']:.1f}x below bptt-exact)" if ref else ""
    return (
        f"hidden {row['hidden']:4d}  p {row['connectivity']:<5g} {row['method']:13s} "
        f"{row['step_ms']:9.1f} ms/step  peak {row['peak_mb']:8.1f} MB  temp "
        f"{row['temp_mb']:8.1f} MB  {row['rate_hz']:5.1f} Hz{ratio}"
    )


if __name__ == "__main__":
    main()
