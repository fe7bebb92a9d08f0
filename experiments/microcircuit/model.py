"""The microcircuit as a spars network: 8 CurrentLIF populations, delayed multapse layers.

Each population pair with synapses gets NEST's ``fixed_total_number`` rule
with multapses (:func:`spars.fixed_total_number`), which comes as layers of
duplicate-free rows; each layer is one :class:`spars.Projection` with its own
weights and delays into the target population's delay ring. Weights are
normal (sd 10 % of the mean) and redrawn until they keep their sign; delays
are normal (sd 50 % of the mean), redrawn below ``dt / 2`` and rounded to the
nearest step as NEST does (so the shortest is one step). The Poisson
background is a :class:`~spars.neurons.PoissonSource` of counts per neuron
(``k_ext`` afferents at 8 Hz, NEST's ``poisson_generator``) joined
:class:`spars.OneToOne`, or, without Poisson input, a bias current (NEST's
``I_e``). Everything is drawn on the host from ``jax.random`` keys, pair by
pair, so the build holds one pair's temporary arrays at a time.
"""

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import spars
from spars import neurons
from spars.builders import host_rng

from . import params as P
from .config import Config, Model


def populations(m: Model, cfg: Config) -> dict:
    """The 8 neuron populations (and their Poisson sources with ``m.poisson``)."""
    pops = {}
    for i, name in enumerate(P.POPULATIONS):
        v0 = P.V0_OPTIMIZED[i] if cfg.v0 == "optimized" else P.V0_ORIGINAL
        pops[name] = neurons.CurrentLIF(int(m.sizes[i]), **P.NEURON, dt=P.DT,
                                        bias=float(m.dc[i]), v_init_normal=v0)  # fmt: skip
        if m.poisson:
            pops[f"bg_{name}"] = neurons.PoissonSource(int(m.sizes[i]), float(m.bg_rates[i]),
                                                       dt=P.DT, counts=True)  # fmt: skip
    return pops


def pairs(m: Model) -> list[tuple[int, int]]:
    """``(target, source)`` indices of the pairs with at least one synapse."""
    return [(t, s) for t in range(8) for s in range(8) if m.synapses[t, s] > 0]


def pair_projections(key, m: Model, target: int, source: int) -> dict:
    """One pair's multapse layers as delayed projections ``{"src>tgt/k": Projection}``."""
    k_conn, k_syn = jax.random.split(jax.random.fold_in(key, 8 * target + source))
    layers = spars.fixed_total_number(k_conn, int(m.sizes[source]), int(m.sizes[target]),
                                      int(m.synapses[target, source]), multapses=True)  # fmt: skip
    rng = host_rng(k_syn)
    pre, post = P.POPULATIONS[source], P.POPULATIONS[target]
    out = {}
    for k, conn in enumerate(layers):
        mask = np.arange(conn.max_row)[None, :] < np.asarray(conn.row_length)[:, None]
        weights = _padded(mask, draw_weights(rng, m.weights[target, source], int(mask.sum())))
        delays = _padded(mask, draw_delay_steps(rng, P.mean_delays()[target, source],
                                                int(mask.sum())))  # fmt: skip
        out[f"{pre}>{post}/{k}"] = spars.Projection(pre, post, conn, jnp.asarray(weights),
                                                    jnp.asarray(delays),
                                                    max(int(delays.max(initial=1)), 1))  # fmt: skip
    return out


def network(m: Model, cfg: Config, progress: bool = True) -> spars.Network:
    """The whole model as a :class:`spars.Network` (see the module docstring)."""
    key = jax.random.key(cfg.seed)
    projections = {}
    if m.poisson:
        for name in P.POPULATIONS:
            projections[f"bg_{name}"] = spars.OneToOne(f"bg_{name}", name, float(m.weight_ext))
    for target, source in tqdm(pairs(m), desc="connecting", disable=not progress):
        projections.update(pair_projections(key, m, target, source))
    return spars.Network(populations(m, cfg), projections)


def draw_weights(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """``n`` float32 weights [pA]: normal, sd ``WEIGHT_REL_SD |mean|``, redrawn to keep the sign."""
    return _redrawn(rng, mean, abs(mean) * P.WEIGHT_REL_SD, n,
                    lambda w: w * np.sign(mean) >= 0)  # fmt: skip


def draw_delay_steps(rng: np.random.Generator, mean: float, n: int, dt: float = P.DT):
    """``n`` int32 delays [steps]: normal [ms], redrawn below ``dt / 2``, rounded as NEST does.

    NEST rounds a delay ``d`` to ``floor(d / dt + 0.5)`` steps, so the redraw
    bound ``dt / 2`` makes one step the shortest delay.
    """
    ms = _redrawn(rng, mean, mean * P.DELAY_REL_SD, n, lambda d: d >= dt / 2)
    return np.floor(ms / np.float32(dt) + np.float32(0.5)).astype(np.int32)


def _redrawn(rng, mean: float, sd: float, n: int, keep) -> np.ndarray:
    """``n`` float32 draws of ``N(mean, sd)``, each outside ``keep`` drawn again."""
    x = (mean + sd * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)
    bad = np.flatnonzero(~keep(x))
    while bad.size:
        x[bad] = mean + sd * rng.standard_normal(bad.size, dtype=np.float32)
        bad = bad[~keep(x[bad])]
    return x


def _padded(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` in the real slots of ``mask``, zero in padding."""
    out = np.zeros(mask.shape, values.dtype)
    out[mask] = values
    return out
