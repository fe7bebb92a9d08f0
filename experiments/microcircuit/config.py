"""A run's settings and the model they give: sizes, synapse counts, weights and input at a scale.

Scaling follows the PyNEST microcircuit example: neuron numbers scale by
``n_scale``, in-degrees (recurrent and external) by ``k_scale``; with
``k_scale < 1`` weights grow by ``1 / sqrt(k_scale)`` (the input's variance is
kept) and a DC current restores the mean input lost, computed from the
full-scale rates ``params.RATES_NEST3``.
"""

from typing import NamedTuple

import numpy as np

from . import params as P


class Config(NamedTuple):
    n_scale: float = 1.0  # neuron numbers, in (0, 1]
    k_scale: float = 1.0  # in-degrees, in (0, 1]
    poisson: bool = True  # Poisson background; False: its DC equivalent
    v0: str = "optimized"  # initial potentials: "optimized" (per population) or "original"
    t_presim: float = P.T_PRESIM  # warm-up, not analysed [ms]
    t_sim: float = P.T_SIM  # analysed time [ms]
    seed: int = 0

    @property
    def steps(self) -> tuple[int, int]:
        """``(warm-up steps, analysed steps)``."""
        return round(self.t_presim / P.DT), round(self.t_sim / P.DT)


class Model(NamedTuple):
    """The model at a scale; arrays over populations (``[8]``) or pairs (``[target, source]``)."""

    sizes: np.ndarray  # neurons per population
    synapses: np.ndarray  # synapses per pair (int64)
    weights: np.ndarray  # mean weight per pair [pA]
    k_ext: np.ndarray  # external in-degrees
    weight_ext: float  # weight of the external input [pA]
    dc: np.ndarray  # DC input per population [pA]
    poisson: bool

    @property
    def n_synapses(self) -> int:
        return int(self.synapses.sum())

    @property
    def bg_rates(self) -> np.ndarray:
        """Poisson rate into each neuron [Hz]: ``k_ext`` afferents at ``BG_RATE``."""
        return P.BG_RATE * self.k_ext


def check(cfg: Config) -> None:
    """Raises ValueError for settings outside the model's range."""
    for name in ("n_scale", "k_scale"):
        value = getattr(cfg, name)
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    if cfg.v0 not in ("optimized", "original"):
        raise ValueError(f"v0 must be 'optimized' or 'original', got {cfg.v0!r}")
    if cfg.t_presim < 0 or cfg.t_sim <= 0:
        raise ValueError(f"need t_presim >= 0 and t_sim > 0 [ms], got {cfg.t_presim}, "
                         f"{cfg.t_sim}")  # fmt: skip
    sizes = np.round(P.FULL_SIZES * cfg.n_scale).astype(int)
    if sizes.min() < 1:
        empty = [p for p, n in zip(P.POPULATIONS, sizes, strict=True) if n < 1]
        raise ValueError(f"n_scale={cfg.n_scale} leaves no neuron in {empty}; the smallest "
                         f"population ({P.FULL_SIZES.min()}) needs n_scale >= "
                         f"{0.5 / P.FULL_SIZES.min():.1e}")  # fmt: skip


def checked_for_cli(cfg: Config) -> Config:
    """``cfg`` if :func:`check` passes; otherwise exits with its message (command lines)."""
    try:
        check(cfg)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    return cfg


def model(cfg: Config) -> Model:
    """The model's numbers at ``cfg``'s scale, with the published compensation."""
    check(cfg)
    full_synapses = P.synapse_counts(P.CONN_PROBS, P.FULL_SIZES, P.FULL_SIZES)
    sizes = np.round(P.FULL_SIZES * cfg.n_scale).astype(int)
    synapses = np.round(full_synapses * cfg.n_scale * cfg.k_scale).astype(np.int64)
    weights = P.mean_weights()
    weight_ext = P.PSP_EXC * P.psc_per_psp(P.NEURON["tau_mem"], P.NEURON["tau_syn"],
                                           P.NEURON["c_mem"])  # fmt: skip
    dc = np.zeros(8) if cfg.poisson else P.dc_equivalent(P.K_EXT, weight_ext)
    if cfg.k_scale != 1:
        dc = dc + _lost_mean_input(cfg, full_synapses, weights, weight_ext)
        weights, weight_ext = weights / np.sqrt(cfg.k_scale), weight_ext / np.sqrt(cfg.k_scale)
    k_ext = np.round(P.K_EXT * cfg.k_scale).astype(int)
    return Model(sizes, synapses, weights, k_ext, weight_ext, dc, cfg.poisson)


def _lost_mean_input(cfg: Config, full_synapses, weights, weight_ext) -> np.ndarray:
    """DC [pA] for the mean input that weights scaled by ``1/sqrt(k)`` no longer bring."""
    in_degrees = full_synapses / P.FULL_SIZES[:, None]
    current = np.sum(weights * in_degrees * P.RATES_NEST3, axis=1)  # [pA ms / ms]
    if cfg.poisson:
        current = current + weight_ext * P.K_EXT * P.BG_RATE
    return 1e-3 * P.NEURON["tau_syn"] * (1 - np.sqrt(cfg.k_scale)) * current
