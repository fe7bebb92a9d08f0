"""Networks, training state and jitted steps of the classifier study.

One setup covers the three connectivities of the study: ``dense`` (all-to-all
matrices), ``sparse`` (fixed random padded rows) and ``deep_r`` (padded rows
with ``headroom`` spare slots, parameters ``theta`` with fixed signs, DEEP R
rewiring after every batch). The optimizer trains a dict ``params`` with keys
``in``, ``rec``, ``out``, ``b``; the model's weights are derived from it. With
``--delays`` a sparse projection's entry is ``{"theta" | "weight": ..., "delay":
...}``, the delay [steps] divided by ``lr_delay / lr`` so one Adam steps it by
about ``lr_delay``; rewiring moves it with its synapse.

``--rule eventprop`` trains an :class:`~spars.learning.eventprop.EventPropSNN`
(CurrentLIF hidden neurons, ``c_mem = tau_syn`` so that a current jump ``w``
moves the potential, integrated over time, as a voltage jump ``w`` moves a LIF's).
"""

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import spars
from spars import neurons, rules
from spars.learning import (
    DenseSynapses,
    RateRegularisation,
    RecurrentSNN,
    SparseSynapses,
    bptt_grads,
    eprop_grads,
    mean_cross_entropy,
    per_step_cross_entropy,
)
from spars.learning.eventprop import (
    ActivityFloor,
    EventPropSNN,
    eventprop_grads,
    max_cross_entropy,
    summed_cross_entropy,
)

SPARSE = ("in", "rec")
AGE_BINS = 12  # removed synapses by age [batches]: 1, 2-3, 4-7, ..., >= 2^11


LOSSES = {"per_step": per_step_cross_entropy, "mean": mean_cross_entropy,
          "summed": summed_cross_entropy, "max": max_cross_entropy}  # fmt: skip
SURROGATES = {  # the e-prop paper's pseudo-derivative, or SuperSpike's
    "triangle": lambda args: spars.surrogate.Triangle(gamma=0.3, width=args.v_thresh),
    "fast_sigmoid": lambda args: spars.surrogate.FastSigmoid(slope=10.0 / args.v_thresh),
}


class TrainState(NamedTuple):
    params: dict  # "in", "rec": weights or theta; "out": [n_rec, n_out]; "b": [n_out]
    signs: dict | None  # deep_r: fixed signs of "in" and "rec"
    conns: dict | None  # sparse / deep_r: Connectivity of "in" and "rec"
    ages: dict | None  # deep_r: batches each synapse has lived, [n_pre, max_row]
    opt_state: Any
    feedback: jax.Array | None  # random e-prop feedback, else None


def hidden_layer(args):
    """The recurrent (A)LIF layer of Bellec et al. (2020): reset by subtraction, Triangle psi.

    EventProp: CurrentLIF neurons with the same membrane, threshold and reset to 0.
    """
    if args.rule == "eventprop":
        if args.neuron != "lif":
            raise SystemExit(f"--rule eventprop trains CurrentLIF neurons, not --neuron "
                             f"{args.neuron}")  # fmt: skip
        return neurons.CurrentLIF(args.hidden, tau_mem=args.tau_mem, tau_syn=args.tau_syn,
                                  c_mem=args.tau_syn, v_rest=0.0, v_thresh=args.v_thresh,
                                  v_reset=0.0, tau_refrac=0.0, dt=args.dt)  # fmt: skip
    kw = dict(
        tau_mem=args.tau_mem,
        v_thresh=args.v_thresh,
        dt=args.dt,
        reset_by_subtraction=True,
        detach_reset=True,
        spike_fn=SURROGATES[args.surrogate](args),
    )
    if args.neuron == "alif":
        return neurons.ALIF(args.hidden, tau_adapt=args.tau_adapt, beta=args.beta, **kw)
    return neurons.LIF(args.hidden, **kw)


def init_state(key, args, n_in: int, n_out: int) -> TrainState:
    """Initial weights (variance ``gain^2 / fan_in``, the real fan-in), optimizer state."""
    ks = jax.random.split(key, 7)
    shapes = {
        "in": (n_in, args.hidden, args.p_in, args.gain_in),
        "rec": (args.hidden, args.hidden, args.p_rec, args.gain_rec),
    }
    params, conns, signs = {}, {}, {}
    for k_conn, k_w, (name, (n_pre, n_post, p, gain)) in zip(
        ks[:2], ks[2:4], shapes.items(), strict=True
    ):
        if args.connectivity == "dense":
            params[name] = gain * jax.random.normal(k_w, (n_pre, n_post)) / jnp.sqrt(n_pre)
            continue
        headroom = args.headroom if args.connectivity == "deep_r" else 1.0
        conn = spars.fixed_probability(
            k_conn, n_pre, n_post, p, headroom=headroom, autapses=name == "in"
        )
        w = gain * jax.random.normal(k_w, conn.indices.shape) / jnp.sqrt(p * n_pre)
        params[name], conns[name] = jnp.where(conn.mask, w, 0.0), conn
        if args.connectivity == "deep_r":
            v = rules.deep_r_init(ks[4], conn, params[name])
            params[name], signs[name] = v["theta"], v["sign"]
        if getattr(args, "delays", False):
            weight = "theta" if args.connectivity == "deep_r" else "weight"
            delay = jax.random.uniform(jax.random.fold_in(k_conn, 1), conn.indices.shape,
                                       minval=1.0, maxval=float(args.max_delay))  # fmt: skip
            params[name] = {weight: params[name], "delay": jnp.where(conn.mask, delay, 0.0)
                            / delay_scale(args)}  # fmt: skip
    params["out"] = jax.random.normal(ks[5], (args.hidden, n_out)) / jnp.sqrt(args.hidden)
    params["b"] = jnp.zeros(n_out)
    feedback = None
    if args.feedback == "random":
        feedback = jax.random.normal(ks[6], (args.hidden, n_out)) / jnp.sqrt(args.hidden)
    ages = {n: jnp.where(c.mask, 1.0, 0.0) for n, c in conns.items()} if signs else None
    opt_state = optimizer(args, key).init(params)
    return TrainState(params, signs or None, conns or None, ages, opt_state, feedback)


def optimizer(args, key) -> optax.GradientTransformationExtraArgs:
    """Adam; for DEEP R with its L1 gradient before and its noise after.

    ``args.l1`` is per trial, as in mlGeNN, whose gradients are sums over
    the trial's steps; ours are means, hence the division by ``n_steps``.
    """
    adam = optax.adam(learning_rate(args, args.lr))
    if args.connectivity != "deep_r":
        return optax.with_extra_args_support(adam)
    noise = rules.deep_r_noise(args.lr, 0.0, args.temperature, jax.random.fold_in(key, 1))
    return optax.chain(rules.deep_r_l1(args.l1 / args.n_steps), adam, noise)


def learning_rate(args, lr: float):
    """Adam's step: ``lr``, or decaying to 0 along a cosine over the run (``--cosine``)."""
    if not args.cosine:
        return lr
    return optax.cosine_decay_schedule(lr, max(args.epochs * args.batches_per_epoch, 1))


def weights_of(params, signs):
    """The model's ``in``/``rec`` weights from the trained parameters."""
    if signs is None:
        return {name: weight_param(params[name]) for name in SPARSE}
    return {n: rules.deep_r_weights({"theta": weight_param(params[n]), "sign": signs[n]})
            for n in SPARSE}  # fmt: skip


def weight_param(entry):
    """A projection's trained weight (or DEEP R ``theta``) array."""
    if isinstance(entry, dict):
        return entry["theta"] if "theta" in entry else entry["weight"]
    return entry


def delay_scale(args) -> float:
    """Trained delay parameters are delays [steps] / this, so Adam steps them by ~lr_delay."""
    return args.lr_delay / args.lr


def delays_of(params, args) -> dict:
    """``name -> delays [steps]`` (None without ``--delays``)."""
    out = {}
    for n in SPARSE:  # clipped again: a clipped parameter times the scale may round below 1
        d = params[n]["delay"] * delay_scale(args) if isinstance(params[n], dict) else None
        out[n] = None if d is None else jnp.where(d > 0, jnp.clip(d, 1.0, args.max_delay), 0.0)
    return out


def synapse_bounds(state: TrainState) -> dict | None:
    """Static ``max_synapses`` per sparse projection: the initial counts.

    No rule of this study adds synapses beyond them (DEEP R keeps the count),
    so e-prop can keep its traces in lists of this length. Call eagerly.
    """
    if state.conns is None:
        return None
    return {n: int(state.conns[n].n_synapses) for n in SPARSE}


def build_model(state: TrainState, args, n_out: int, bounds: dict | None = None) -> RecurrentSNN:
    w = weights_of(state.params, state.signs)
    if state.conns is None:
        syn = {n: DenseSynapses(w[n]) for n in SPARSE}
    else:
        bounds = bounds or dict.fromkeys(SPARSE)
        d = delays_of(state.params, args)
        bound = {n: None if d[n] is None else args.max_delay for n in SPARSE}
        syn = {n: SparseSynapses(state.conns[n], w[n], bounds[n], d[n], bound[n]) for n in SPARSE}
    network = EventPropSNN if args.rule == "eventprop" else RecurrentSNN
    return network(
        syn["in"],
        syn["rec"],
        state.params["out"],
        state.params["b"],
        hidden_layer(args),
        neurons.LeakyIntegrator(n_out, tau_mem=args.tau_out, dt=args.dt),
    )


def make_train_step(args, n_out: int, key, bounds: dict | None = None):
    """``step(state, x, labels) -> (state, Metrics)``: gradients, then one optimizer step.

    ``bounds``: from :func:`synapse_bounds`, so online e-prop's cost ignores row headroom.
    """
    opt = optimizer(args, key)
    reg = RateRegularisation(args.c_reg, args.f_target, args.tau_reg)

    @eqx.filter_jit
    def step(state: TrainState, x, labels):
        model = build_model(state, args, n_out, bounds)
        loss = LOSSES[args.loss]
        if args.rule == "eprop":
            g, metrics = eprop_grads(
                model, x, labels, reg, state.feedback, loss=loss, online=args.online
            )
        elif args.rule == "eventprop":
            max_spikes = args.max_spikes or x.shape[0] * x.shape[1] * args.hidden // 4
            floor = ActivityFloor(args.floor, args.f_min)
            g, metrics = eventprop_grads(model, x, labels, reg, loss=loss, max_spikes=max_spikes,
                                         floor=floor)  # fmt: skip
        else:
            g, metrics = bptt_grads(model, x, labels, reg, loss=loss)
        _, pullback = jax.vjp(lambda p: weights_of(p, state.signs), state.params)
        (g_params,) = pullback({"in": g.w_in.weight, "rec": g.w_rec.weight})
        for name in SPARSE:
            if isinstance(g_params[name], dict):
                delay = getattr(g, f"w_{name}").delay * delay_scale(args)
                g_params[name] = {**g_params[name], "delay": delay}
        grads = {**g_params, "out": g.w_out, "b": g.b_out}
        mask = slot_mask(state)
        updates, opt_state = opt.update(grads, state.opt_state, state.params, slot_mask=mask)
        params = clip_delays(optax.apply_updates(state.params, updates), state, args)
        return state._replace(params=params, opt_state=opt_state), metrics

    return step


def slot_mask(state: TrainState) -> dict:
    """Where DEEP R's L1 and noise act: real slots of the weights (never the delays)."""
    if state.conns is None:
        return {"in": True, "rec": True, "out": True, "b": True}
    masks = {}
    for n in SPARSE:
        entry, mask = state.params[n], state.conns[n].mask
        masks[n] = {k: mask if k != "delay" else False for k in entry} if isinstance(
            entry, dict) else mask  # fmt: skip
    return {**masks, "out": False, "b": False}


def clip_delays(params: dict, state: TrainState, args) -> dict:
    """Delays back into ``[1, max_delay]`` steps on real synapses, 0 in padding."""
    params = dict(params)
    for n in SPARSE:
        if isinstance(params[n], dict):
            scale, mask = delay_scale(args), state.conns[n].mask
            clipped = jnp.clip(params[n]["delay"], 1.0 / scale, args.max_delay / scale)
            params[n] = {**params[n], "delay": jnp.where(mask, clipped, 0.0)}
    return params


def new_delay(args):
    """DEEP R's ``new_synapse``: a new synapse draws a delay uniformly in [1, max_delay]."""
    draw = spars.random_delays(1.0, float(args.max_delay), integer=False)
    return lambda key, pre, post: {"delay": draw(key, pre, post)["delay"] / delay_scale(args)}


def make_rewire(args, key):
    """``rewire(state, key) -> (state, stats)``: DEEP R on both sparse projections.

    Through :func:`spars.rules.rewiring`, so Adam's moments, the signs and the
    ages move with their synapses. ``stats`` per projection: the
    :class:`~spars.structure.RewireStats`, ``removed_by_age`` (``[AGE_BINS]``
    counts of removed synapses by age, bin ``k`` holding ages ``2^k .. 2^(k+1)
    - 1`` batches) and ``removed_excitatory``.
    """
    extra = {"new_synapse": new_delay(args)} if getattr(args, "delays", False) else {}
    kwargs = {n: {"autapses": n == "in", **extra} for n in SPARSE}
    train = rules.rewiring(optimizer(args, key), rules.deep_r, variable="theta", rule_kwargs=kwargs)

    @eqx.filter_jit
    def rewire(state: TrainState, key):
        fixed = {n: {"sign": state.signs[n], "age": state.ages[n]} for n in SPARSE}
        rewiring = rules.RewiringState(state.params, state.conns, fixed, state.opt_state, 0)
        rewired, counts = train.rewire(key, rewiring)
        stats = {}
        for name in SPARSE:
            dormant = state.conns[name].mask & (weight_param(state.params[name]) < 0)
            by_age = jnp.zeros(AGE_BINS, jnp.int32).at[_age_bin(state.ages[name])].add(
                dormant.astype(int)
            )
            excitatory = jnp.sum(dormant & (state.signs[name] > 0))
            stats[name] = {"counts": counts[name], "removed_by_age": by_age,
                           "removed_excitatory": excitatory}  # fmt: skip
        conns, fixed = rewired.conns, rewired.fixed
        ages = {n: jnp.where(conns[n].mask, fixed[n]["age"] + 1.0, 0.0) for n in SPARSE}
        signs = {n: fixed[n]["sign"] for n in SPARSE}
        new = state._replace(conns=conns, params=rewired.params, signs=signs, ages=ages,
                             opt_state=rewired.opt_state)  # fmt: skip
        return new, stats

    return rewire


def _age_bin(age):
    return jnp.clip(jnp.floor(jnp.log2(jnp.maximum(age, 1.0))), 0, AGE_BINS - 1).astype(jnp.int32)


@eqx.filter_jit
def evaluate(model: RecurrentSNN, x, labels, valid, loss=per_step_cross_entropy):
    """Summed ``loss`` and correct count over the ``valid`` samples of a batch."""
    # EventProp networks with delays: scatter only the spikes' rows (no gradient needed here)
    _, y = model.run(x, events=True) if isinstance(model, EventPropSNN) else model.run(x)
    per_sample = jax.vmap(loss, in_axes=(1, 0))(y[:, :, None], labels[:, None])
    correct = jnp.argmax(y.mean(0), -1) == labels
    return jnp.sum(jnp.where(valid, per_sample, 0.0)), jnp.sum(correct & valid)


def synapse_count(state: TrainState) -> int:
    """Synapses of the hidden layer (input + recurrent)."""
    if state.conns is None:
        return sum(state.params[n].size for n in SPARSE)
    return sum(int(state.conns[n].n_synapses) for n in SPARSE)


def weight_bytes(state: TrainState) -> int:
    """Bytes of the hidden layer's connectivity and weights (padding included)."""
    arrays = [a for n in SPARSE for a in jax.tree.leaves(state.params[n])]
    if state.conns is not None:
        arrays += [state.conns[n].indices for n in SPARSE] + [
            state.conns[n].row_length for n in SPARSE
        ]
    return int(sum(a.size * a.dtype.itemsize for a in arrays))
