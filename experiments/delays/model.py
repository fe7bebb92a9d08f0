"""Inputs -> delayed synapses -> fast LIF layer -> leaky-integrator readout, trained by BPTT.

The input of step ``t`` reaches the hidden layer at step ``t + d - 1`` for a
synapse of delay ``d`` [steps] (``d = 1``: the same step, as in
:class:`spars.learning.RecurrentSNN`). Weights, delays and the readout are
trained with Adam through :func:`spars.propagate_delayed`'s custom VJP; the
delays take their own step size and are clipped to ``[1, max_delay]``.

Variants: ``one_step`` (every delay 1), ``fixed`` (random delays, not
trained), ``learned`` (trained), all with every input joined to every hidden
neuron; ``sparse`` (learned delays on a fixed random ``p_sparse`` of the
input synapses) and ``deep_r`` (the same count of synapses rewired by DEEP R
after every batch; a new synapse draws a random delay).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import spars
from spars import neurons, rules

VARIANTS = ("one_step", "fixed", "learned", "sparse", "deep_r")


class State(NamedTuple):
    conn: spars.Connectivity  # input -> hidden
    params: dict  # "weight" (DEEP R: theta), "delay" [steps], "w_out"
    signs: jax.Array | None  # DEEP R's fixed signs, [n_in, max_row]
    opt_state: optax.OptState


def init_state(key, args, n_in: int, n_out: int) -> State:
    """Connectivity, parameters and optimizer state of ``args.variant``."""
    k_conn, k_w, k_d, k_out, k_sign = jax.random.split(key, 5)
    conn = _connectivity(k_conn, args, n_in)
    shape, mask = conn.indices.shape, conn.mask
    weight = args.w_mean + args.w_std * jax.random.normal(k_w, shape)
    if args.variant == "one_step":
        delay = jnp.ones(shape)
    else:
        delay = jax.random.uniform(k_d, shape, minval=1.0, maxval=float(args.max_delay))
    w_out = jax.random.normal(k_out, (args.hidden, n_out)) / jnp.sqrt(args.hidden)
    params = {"weight": weight * mask, "delay": jnp.where(mask, delay, 0.0), "w_out": w_out}
    signs = None
    if args.variant == "deep_r":
        v = rules.deep_r_init(k_sign, conn, params["weight"])
        params["weight"], signs = v["theta"], v["sign"]
        if w_out.shape == shape:  # rewiring moves every leaf of this shape
            raise ValueError(f"hidden x classes {w_out.shape} must differ from the rows {shape}")
    return State(conn, params, signs, optimizer(args).init(params))


def _connectivity(key, args, n_in: int) -> spars.Connectivity:
    if args.variant in ("sparse", "deep_r"):
        headroom = args.headroom if args.variant == "deep_r" else 1.0
        return spars.fixed_probability(key, n_in, args.hidden, args.p_sparse, headroom=headroom)
    return spars.from_dense(jnp.ones((n_in, args.hidden)))[0]


def weights_of(state_params: dict, signs):
    """Effective input weights: the weights, or DEEP R's ``sign * max(theta, 0)``."""
    if signs is None:
        return state_params["weight"]
    return rules.deep_r_weights({"theta": state_params["weight"], "sign": signs})


def layers(args, n_out: int):
    hidden = neurons.LIF(args.hidden, tau_mem=args.tau_mem, v_thresh=1.0)
    return hidden, neurons.LeakyIntegrator(n_out, tau_mem=args.tau_out)


def run(conn, weight, delay, w_out, x, args):
    """Hidden spikes ``[T, B, hidden]`` and readout ``[T, B, n_out]`` for ``x [T, B, n_in]``."""
    hidden, readout = layers(args, w_out.shape[1])
    batch = x.shape[1]

    def step(carry, x_t):
        buffer, h, y = carry
        buffer = spars.propagate_delayed(conn, weight, delay, x_t, buffer)
        current, buffer = buffer.pop()
        z, h = hidden.step(h, current)
        y, _ = readout.step(y, z @ w_out)
        return (buffer, h, y), (z, y)

    start = (spars.delay_buffer(args.max_delay, conn.n_post, (batch,)),
             hidden.init(batch_shape=(batch,)), readout.init(batch_shape=(batch,)))  # fmt: skip
    return jax.lax.scan(step, start, x)[1]


def loss_and_correct(params, conn, signs, x, labels, args):
    """Cross-entropy of the time-averaged readout (+ DEEP R's L1 on theta)."""
    weight = weights_of(params, signs)
    z, y = run(conn, weight, params["delay"], params["w_out"], x, args)
    logits = y.mean(0)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    if signs is not None:
        loss = loss + args.l1 * jnp.sum(jnp.where(conn.mask, params["weight"], 0.0))
    return loss, (jnp.sum(jnp.argmax(logits, -1) == labels), z.mean())


def optimizer(args) -> optax.GradientTransformation:
    """Adam on weights and readout; Adam with ``lr_delay`` on delays (frozen unless trained)."""
    trained = args.variant not in ("one_step", "fixed")
    delay_opt = optax.adam(args.lr_delay) if trained else optax.set_to_zero()
    labels = {"weight": "w", "w_out": "w", "delay": "d"}
    return optax.multi_transform({"w": optax.adam(args.lr), "d": delay_opt}, labels)


def make_step(args):
    """``step(state, x, labels, key) -> (state, loss, correct)``, DEEP R after the update."""
    opt = optimizer(args)
    grad_fn = jax.value_and_grad(loss_and_correct, has_aux=True)
    new_delay = spars.random_delays(1.0, float(args.max_delay), integer=False)

    @jax.jit
    def step(state: State, x, labels, key):
        (loss, (correct, _)), grads = grad_fn(state.params, state.conn, state.signs, x, labels,
                                              args)  # fmt: skip
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        mask = state.conn.mask
        params["delay"] = jnp.where(mask, jnp.clip(params["delay"], 1.0, args.max_delay), 0.0)
        state = state._replace(params=params, opt_state=opt_state)
        if state.signs is not None:
            state = _rewire(state, key, new_delay)
        return state, loss, correct

    return step


def _rewire(state: State, key, new_delay) -> State:
    """DEEP R; Adam's moments move with their synapses (every ``[n_in, max_row]`` leaf)."""
    variables = {"theta": state.params["weight"], "sign": state.signs,
                 "delay": state.params["delay"], "opt": state.opt_state}  # fmt: skip
    conn, v, _ = rules.deep_r(key, state.conn, variables, new_synapse=new_delay)
    params = {**state.params, "weight": v["theta"], "delay": v["delay"]}
    return State(conn, params, v["sign"], v["opt"])


def make_eval(args):
    @jax.jit
    def evaluate(state: State, x, labels):
        return loss_and_correct(state.params, state.conn, state.signs, x, labels, args)

    return evaluate
