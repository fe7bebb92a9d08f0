"""The published parameters of the cortical microcircuit and the quantities derived from them.

Sources:

- Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit:
  relating structure and activity in a full-scale spiking network model.
  Cereb Cortex 24(3):785-806, doi:10.1093/cercor/bhs358 (Tables 4-5: sizes,
  connection probabilities, external in-degrees, synapse and neuron parameters).
- The PyNEST microcircuit example of NEST 3 (``pynest/examples/Potjans_2014``,
  ``network_params.py``, ``sim_params.py``, ``helpers.py``; removed from NEST's
  examples in 2025): the same values, the population-specific initial
  potentials ("optimized"), the synapse count per population pair, the
  PSP-to-PSC conversion, the DC equivalent of the Poisson background, the
  compensation of in-degree scaling, the redraw bounds of weights and delays,
  and two full-scale reference runs' population rates.

Populations are ordered L2/3e, L2/3i, L4e, L4i, L5e, L5i, L6e, L6i; matrices
are ``[target, source]``.
"""

import math

import numpy as np

POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
FULL_SIZES = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
CONN_PROBS = np.array([  # [target, source]
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
])  # fmt: skip
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])  # external in-degrees
BG_RATE = 8.0  # rate of each external afferent [Hz]
PSP_EXC = 0.15  # mean peak of an excitatory PSP [mV]; L4e -> L2/3e doubled
WEIGHT_REL_SD = 0.1  # weights: normal, sd 10 % of the mean, redrawn to keep their sign
G = -4.0  # inhibitory / excitatory weight
DELAY_EXC, DELAY_INH = 1.5, 0.75  # mean delays [ms]
DELAY_REL_SD = 0.5  # delays: normal, sd 50 % of the mean, redrawn below dt / 2
NEURON = dict(tau_mem=10.0, tau_syn=0.5, c_mem=250.0, v_rest=-65.0, v_thresh=-50.0,
              v_reset=-65.0, tau_refrac=2.0)  # iaf_psc_exp; [ms], [pF], [mV]  # fmt: skip
V0_OPTIMIZED = (  # initial potentials: (mean, sd) [mV] per population (NEST 3's default)
    (-68.28, 5.36), (-63.16, 4.57), (-63.33, 4.74), (-63.45, 4.94),
    (-63.11, 4.94), (-61.66, 4.55), (-66.72, 5.46), (-61.43, 4.48),
)  # fmt: skip
V0_ORIGINAL = (-58.0, 10.0)  # the earlier implementations' (mean, sd) for every population
DT = 0.1  # [ms]
T_PRESIM, T_SIM = 500.0, 1000.0  # warm-up and measured time [ms]

# Published full-scale population rates [Hz] of two NEST runs of the PyNEST example:
# NEST 3 (optimized V0, 4 threads; the example uses them for in-degree scaling) and
# the 2016 version (original V0). One simulation each, so their difference is the
# only published measure of the spread from seed to seed.
RATES_NEST3 = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
RATES_2016 = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])
RATE_TOLERANCE = 0.15  # accepted beyond the two runs' range, relative (they differ by <= 11 %)


def psc_per_psp(tau_mem: float, tau_syn: float, c_mem: float) -> float:
    """Current [pA] whose exponential PSC peaks the membrane at 1 mV (``tau_mem != tau_syn``).

    The PSP of ``J exp(-t / tau_syn)`` is ``J / c_mem * tau (exp(-t / tau_mem) -
    exp(-t / tau_syn))`` with ``tau = tau_mem tau_syn / (tau_mem - tau_syn)``; it
    peaks at ``t* = tau ln(tau_mem / tau_syn)``.
    """
    tau = tau_mem * tau_syn / (tau_mem - tau_syn)
    peak = tau * math.log(tau_mem / tau_syn)
    return c_mem / (tau * (math.exp(-peak / tau_mem) - math.exp(-peak / tau_syn)))


def synapse_counts(p, n_target, n_source) -> np.ndarray:
    """Synapses per pair such that a pair is connected with probability ``p`` (PD14, eq. 1).

    ``K = log(1 - p) / log(1 - 1 / (n_target n_source))``: that many synapses
    drawn uniformly with multapses leave a pair unconnected with ``1 - p``.
    """
    pairs = np.outer(n_target, n_source).astype(float)
    return np.log1p(-np.asarray(p, float)) / np.log1p(-1.0 / pairs)


def mean_weights() -> np.ndarray:
    """Mean weights [pA] ``[target, source]``: 87.8 pA excitatory, g times that inhibitory."""
    w = PSP_EXC * psc_per_psp(NEURON["tau_mem"], NEURON["tau_syn"], NEURON["c_mem"])
    weights = np.tile(np.array([w, G * w]), (8, 4))
    weights[0, 2] = 2 * w  # L4e -> L2/3e
    return weights


def mean_delays() -> np.ndarray:
    """Mean delays [ms] ``[target, source]``: by the source's type."""
    return np.tile(np.array([DELAY_EXC, DELAY_INH]), (8, 4))


def dc_equivalent(k_ext, weight_ext: float) -> np.ndarray:
    """DC [pA] with the mean of ``k_ext`` Poisson inputs at ``BG_RATE`` of ``weight_ext`` [pA]."""
    return BG_RATE * np.asarray(k_ext, float) * weight_ext * NEURON["tau_syn"] * 1e-3
