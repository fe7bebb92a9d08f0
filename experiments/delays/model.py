"""Inputs -> delayed synapses -> fast LIF layer -> leaky-integrator readout, trained by BPTT.

The input of step ``t`` reaches the hidden layer at step ``t + d - 1`` for a
synapse of delay ``d`` [steps] (``d = 1``: the same step, as in
:class:`spars.learning.RecurrentSNN`). Weights, delays and the readout are
trained with Adam through :func:`spars.propagate_delayed`'s custom VJP; the
delays take their own step size and are clipped to ``[1, max_delay]``.
"""

import jax
import jax.numpy as jnp
import optax

import spars
from spars import neurons

VARIANTS = ("one_step", "fixed", "learned")


def init_params(key, args, n_in: int, n_out: int):
    """``(conn, params)``: params ``{"weight", "delay", "w_out"}``, delays per ``args.variant``."""
    k_conn, k_w, k_d, k_out = jax.random.split(key, 4)
    if args.p_in < 1.0:
        conn = spars.fixed_probability(k_conn, n_in, args.hidden, args.p_in)
    else:
        conn, _ = spars.from_dense(jnp.ones((n_in, args.hidden)))
    shape, mask = conn.indices.shape, conn.mask
    weight = args.w_mean + args.w_std * jax.random.normal(k_w, shape)
    if args.variant == "one_step":
        delay = jnp.ones(shape)
    else:
        delay = jax.random.uniform(k_d, shape, minval=1.0, maxval=float(args.max_delay))
    w_out = jax.random.normal(k_out, (args.hidden, n_out)) / jnp.sqrt(args.hidden)
    params = {"weight": weight * mask, "delay": jnp.where(mask, delay, 0.0), "w_out": w_out}
    return conn, params


def layers(args, n_out: int):
    hidden = neurons.LIF(args.hidden, tau_mem=args.tau_mem, v_thresh=1.0)
    return hidden, neurons.LeakyIntegrator(n_out, tau_mem=args.tau_out)


def run(conn, params, x, args, n_out: int):
    """Hidden spikes ``[T, B, hidden]`` and readout ``[T, B, n_out]`` for ``x [T, B, n_in]``."""
    hidden, readout = layers(args, n_out)
    batch = x.shape[1]

    def step(carry, x_t):
        buffer, h, y = carry
        buffer = spars.propagate_delayed(conn, params["weight"], params["delay"], x_t, buffer)
        current, buffer = buffer.pop()
        z, h = hidden.step(h, current)
        y, _ = readout.step(y, z @ params["w_out"])
        return (buffer, h, y), (z, y)

    start = (spars.delay_buffer(args.max_delay, conn.n_post, (batch,)), hidden.init((batch,)),
             readout.init((batch,)))  # fmt: skip
    return jax.lax.scan(step, start, x)[1]


def loss_and_correct(params, conn, x, labels, args, n_out: int):
    z, y = run(conn, params, x, args, n_out)
    logits = y.mean(0)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, (jnp.sum(jnp.argmax(logits, -1) == labels), z.mean())


def optimizer(args) -> optax.GradientTransformation:
    """Adam on weights and readout; Adam with ``lr_delay`` on delays (frozen unless learned)."""
    delay_opt = optax.adam(args.lr_delay) if args.variant == "learned" else optax.set_to_zero()
    labels = {"weight": "w", "w_out": "w", "delay": "d"}
    return optax.multi_transform({"w": optax.adam(args.lr), "d": delay_opt}, labels)


def make_step(conn, args, n_out: int):
    opt = optimizer(args)
    grad_fn = jax.value_and_grad(loss_and_correct, has_aux=True)

    @jax.jit
    def step(params, opt_state, x, labels):
        (loss, (correct, rate)), grads = grad_fn(params, conn, x, labels, args, n_out)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        delay = jnp.where(conn.mask, jnp.clip(params["delay"], 1.0, args.max_delay), 0.0)
        return {**params, "delay": delay}, opt_state, loss, correct

    return opt, step


def make_eval(conn, args, n_out: int):
    @jax.jit
    def evaluate(params, x, labels):
        return loss_and_correct(params, conn, x, labels, args, n_out)

    return evaluate
