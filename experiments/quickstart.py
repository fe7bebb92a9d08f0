"""End-to-end example: a sparse recurrent LIF network trained with jax.grad + optax.

    python -m experiments.quickstart [--steps 60] [--seed 0]

Task: tell apart ``n_classes`` Poisson input patterns (each class raises the
rate of its own random quarter of the inputs). Input -> sparse recurrent LIF
-> leaky-integrator readout; loss is the cross-entropy of the time-averaged
readout; trained by backpropagation through time with surrogate gradients.
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from tqdm import trange

import spars
from spars import neurons


def build_network(key, n_in: int, n_rec: int, n_out: int) -> spars.Network:
    """Input Poisson -> 10% sparse input, 5% sparse recurrent LIF -> readout."""
    keys = jax.random.split(key, 6)

    def projection(k_conn, k_w, pre, post, n_pre, n_post, p, scale, **kw):
        conn = spars.fixed_probability(k_conn, n_pre, n_post, p, headroom=1.25, **kw)
        w = scale * jax.random.normal(k_w, conn.indices.shape) / jnp.sqrt(p * n_pre)
        return spars.Projection(pre, post, conn, jnp.where(conn.mask, w, 0.0))

    return spars.Network(
        populations={
            "input": neurons.PoissonSource(n_in, rate=5.0),
            "hidden": neurons.LIF(n_rec, tau_mem=20.0, tau_refrac=2.0),
            "readout": neurons.LeakyIntegrator(n_out, tau_mem=20.0),
        },
        projections={
            "in": projection(*keys[0:2], "input", "hidden", n_in, n_rec, 0.1, 2.0),
            "rec": projection(
                *keys[2:4], "hidden", "hidden", n_rec, n_rec, 0.05, 0.5, autapses=False
            ),
            "out": projection(*keys[4:6], "hidden", "readout", n_rec, n_out, 1.0, 1.0),
        },
    )


def class_rates(key, n_classes: int, n_in: int, low: float = 5.0, high: float = 12.0):
    """``[n_classes, n_in]`` input rates [Hz]: each class lifts its own quarter."""
    perm = jax.vmap(lambda k: jax.random.permutation(k, n_in))(jax.random.split(key, n_classes))
    lifted = perm < n_in // 4
    return jnp.where(lifted, high, low)


def loss_fn(net, key, labels, rates, n_steps: int):
    """Cross-entropy of the time-averaged readout, and the accuracy."""
    state = net.init(key, labels.shape)
    drive = {"input": jnp.broadcast_to(rates[labels], (n_steps, *labels.shape, rates.shape[1]))}
    _, rec = spars.simulate(net, state, n_steps, external=drive)
    logits = rec["readout"].mean(axis=0)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return loss, (accuracy, rec["hidden"].mean() * 1e3)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--time", type=int, default=100, help="trial length [ms] (dt = 1 ms)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    k_net, k_rates, k_train = jax.random.split(jax.random.key(args.seed), 3)
    net = build_network(k_net, 100, args.hidden, args.classes)
    rates = class_rates(k_rates, args.classes, 100)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(eqx.filter(net, eqx.is_inexact_array))

    @eqx.filter_jit
    def train_step(net, opt_state, key):
        k_labels, k_sim = jax.random.split(key)
        labels = jax.random.randint(k_labels, (args.batch,), 0, args.classes)
        grad_fn = eqx.filter_value_and_grad(loss_fn, has_aux=True)
        (loss, aux), grads = grad_fn(net, k_sim, labels, rates, args.time)
        updates, opt_state = optimizer.update(
            grads, opt_state, eqx.filter(net, eqx.is_inexact_array)
        )
        return eqx.apply_updates(net, updates), opt_state, loss, aux

    n_syn = sum(int(p.conn.n_synapses) for p in net.projections.values())
    print(f"network: 100 inputs -> {args.hidden} LIF -> {args.classes} readout, {n_syn} synapses")
    history, start = [], time.perf_counter()
    for step in (bar := trange(args.steps, desc="training", mininterval=1.0)):
        net, opt_state, loss, (acc, rate) = train_step(
            net, opt_state, jax.random.fold_in(k_train, step)
        )
        history.append((float(loss), float(acc)))
        bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.2f}", rate=f"{rate:.1f}Hz")
    elapsed = time.perf_counter() - start
    first = sum(h[1] for h in history[:5]) / min(5, len(history))
    last = sum(h[1] for h in history[-5:]) / min(5, len(history))
    print(
        f"loss {history[0][0]:.3f} -> {history[-1][0]:.3f}; "
        f"accuracy (mean of 5 batches) {first:.2f} -> {last:.2f}; "
        f"{elapsed:.1f} s for {args.steps} steps (compile included)"
    )
    return {"history": history, "accuracy_start": first, "accuracy_end": last}


if __name__ == "__main__":
    main()
