"""Cost of structural plasticity against propagation.

    python -m experiments.benchmarks.rewiring [--quick] [--out results/benchmark]

Times one DEEP R rewiring step against one forward+backward propagation step
on classifier-sized projections (batch 32), one column-view rebuild and one
topographic update against one forward propagation step on large ones, and
prints the ratios. Writes ``rewiring.json``.
"""

import json

import jax
import jax.numpy as jnp

import spars
from experiments.common.timing import parse_args, run_meta, time_call
from spars import rules

DEEP_R_CASES = (  # (batch, n_pre, n_post, p_connect, headroom, p_spike, dormant fraction)
    (32, 700, 512, 0.05, 2.0, 0.02, 0.01),
    (32, 512, 512, 0.01, 2.0, 0.02, 0.01),
)
COLUMN_CASE = (20000, 20000, 0.001, 1.5, 0.01)  # n_pre, n_post, p, headroom, p_spike
TOPOGRAPHIC_SCALE = 7  # (16 s)^2 neurons per layer, 10 s^2 candidates per update
TRIAL_STEPS = 1000  # time steps per trial, as in the classifier study


def _spikes(key, batch, n, p):
    return (jax.random.uniform(key, (batch, n)) < p).astype(jnp.float32)


def _propagation_times(conn, weights, spikes, reps):
    probe = jnp.ones((*spikes.shape[:-1], conn.n_post))
    fwd = jax.jit(spars.propagate)

    def loss(w, s):
        return jnp.vdot(spars.propagate(conn, w, s), probe)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return (
        time_call(fwd, conn, weights, spikes, reps=reps),
        time_call(grad, weights, spikes, reps=reps),
    )


def deep_r_row(key, case, reps):
    batch, n_pre, n_post, p, headroom, p_spike, dormant = case
    k_conn, k_var, k_dormant, k_spikes, k_rule = jax.random.split(key, 5)
    conn = spars.fixed_probability(k_conn, n_pre, n_post, p, headroom=headroom)
    weights = jnp.where(conn.mask, jax.random.normal(k_var, conn.indices.shape), 0.0)
    variables = rules.deep_r_init(k_var, conn, weights)
    below = jax.random.uniform(k_dormant, conn.indices.shape) < dormant
    variables["theta"] = jnp.where(below & conn.mask, -1e-3, variables["theta"])
    _, prop_ms = _propagation_times(conn, weights, _spikes(k_spikes, batch, n_pre, p_spike), reps)
    rewire_ms = time_call(jax.jit(rules.deep_r), k_rule, conn, variables, reps=reps)
    stats = jax.jit(rules.deep_r)(k_rule, conn, variables)[2]
    trial_ms = TRIAL_STEPS * prop_ms
    return {
        "case": dict(
            zip(
                ("batch", "n_pre", "n_post", "p", "headroom", "spiking", "dormant"),
                case,
                strict=True,
            ),
            synapses=int(conn.n_synapses),
            max_row=conn.max_row,
        ),
        "rewired": int(stats.removed),
        "failed": int(stats.failed),
        "deep_r_ms": rewire_ms,
        "propagate_fwd_bwd_ms": prop_ms,
        "ratio": rewire_ms / prop_ms,
        "share_of_trial": rewire_ms / (rewire_ms + trial_ms),
    }


def column_row(key, reps):
    n_pre, n_post, p, headroom, p_spike = COLUMN_CASE
    k_conn, k_w, k_spikes = jax.random.split(key, 3)
    conn = spars.fixed_probability(k_conn, n_pre, n_post, p, headroom=headroom)
    weights = jnp.where(conn.mask, jax.random.normal(k_w, conn.indices.shape), 0.0)
    fwd_ms, fwd_bwd_ms = _propagation_times(
        conn, weights, _spikes(k_spikes, 1, n_pre, p_spike), reps
    )
    max_col = int(jnp.max(spars.in_degree(conn))) * 2
    build = jax.jit(spars.column_view, static_argnums=1)
    column_ms = time_call(build, conn, max_col, reps=reps)
    return {
        "case": {
            "n_pre": n_pre,
            "n_post": n_post,
            "p": p,
            "headroom": headroom,
            "spiking": p_spike,
            "synapses": int(conn.n_synapses),
            "max_row": conn.max_row,
        },
        "column_view_ms": column_ms,
        "propagate_fwd_ms": fwd_ms,
        "propagate_fwd_bwd_ms": fwd_bwd_ms,
        "ratio_fwd": column_ms / fwd_ms,
    }


def topographic_row(key, reps, scale=TOPOGRAPHIC_SCALE):
    side = 16 * scale
    grid = (side, side)
    k_conn, k_spikes, k_rule = jax.random.split(key, 3)
    conn = spars.gaussian_grid(k_conn, grid, grid, 0.16, 2.5, headroom=2.0)
    weights = jnp.where(conn.mask, 0.2, 0.0)
    fwd_ms, _ = _propagation_times(conn, weights, _spikes(k_spikes, 1, side * side, 0.01), reps)

    def update(key, conn, w):
        return rules.topographic(
            key,
            conn,
            w,
            pre_shape=grid,
            post_shape=grid,
            n_candidates=10 * scale**2,
            p_form=0.16,
            sigma=2.5,
            p_elim_dep=1.0,
            p_elim_pot=0.0068,
            threshold=0.1,
            new_weight=0.2,
        )

    update_ms = time_call(jax.jit(update), k_rule, conn, weights, reps=reps)
    return {
        "case": {
            "neurons": side * side,
            "synapses": int(conn.n_synapses),
            "max_row": conn.max_row,
            "candidates": 10 * scale**2,
            "spiking": 0.01,
        },
        "topographic_ms": update_ms,
        "propagate_fwd_ms": fwd_ms,
        "ratio_fwd": update_ms / fwd_ms,
    }


def print_rows(deep_r_rows, column, topo):
    print(
        f"\nDEEP R rewiring step vs one propagate fwd+bwd step (batch 32); share of a "
        f"{TRIAL_STEPS}-step trial"
    )
    for r in deep_r_rows:
        c = r["case"]
        print(
            f"  {c['n_pre']}->{c['n_post']} p={c['p']} headroom {c['headroom']}x "
            f"({c['synapses']} synapses, {r['rewired']} rewired, {r['failed']} failed): "
            f"deep_r {r['deep_r_ms']:.3f} ms, propagate {r['propagate_fwd_bwd_ms']:.3f} ms, "
            f"ratio {r['ratio']:.2f}, share {100 * r['share_of_trial']:.3f}%"
        )
    c = column["case"]
    print(
        f"\ncolumn-view rebuild, {c['n_pre']}->{c['n_post']} p={c['p']} ({c['synapses']} "
        f"synapses): {column['column_view_ms']:.2f} ms vs propagate fwd "
        f"{column['propagate_fwd_ms']:.3f} ms (ratio {column['ratio_fwd']:.0f}), "
        f"fwd+bwd {column['propagate_fwd_bwd_ms']:.3f} ms"
    )
    c = topo["case"]
    print(
        f"\ntopographic update, {c['neurons']} neurons, {c['synapses']} synapses, "
        f"{c['candidates']} candidates: {topo['topographic_ms']:.3f} ms vs propagate fwd "
        f"{topo['propagate_fwd_ms']:.3f} ms (ratio {topo['ratio_fwd']:.2f})"
    )


def main(argv=None) -> dict:
    args, reps = parse_args(argv, __doc__, "fewer repetitions, scale 2 map")
    key = jax.random.key(args.seed)
    deep_r_rows = [
        deep_r_row(jax.random.fold_in(key, n), c, reps) for n, c in enumerate(DEEP_R_CASES)
    ]
    column = column_row(jax.random.fold_in(key, 10), reps)
    topo = topographic_row(
        jax.random.fold_in(key, 11), reps, 2 if args.quick else TOPOGRAPHIC_SCALE
    )
    print_rows(deep_r_rows, column, topo)
    result = {
        "meta": run_meta(reps),
        "deep_r": deep_r_rows,
        "column_view": column,
        "topographic": topo,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rewiring.json").write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out / 'rewiring.json'}")
    return result


if __name__ == "__main__":
    main()
