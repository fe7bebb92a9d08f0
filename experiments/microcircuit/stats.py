"""Population statistics of recorded spikes and their comparison with the published rates.

- rate: spikes per neuron and second over the analysed window [Hz];
- irregularity: the mean over neurons (with at least 3 spikes) of the
  coefficient of variation of their inter-spike intervals;
- synchrony: variance over mean of the spike count of (up to) the first
  ``SUBSAMPLE`` neurons of a population in ``SYNC_BIN`` bins: 1 for
  independent Poisson trains, larger when neurons fire together.
"""

import numpy as np

from . import params as P

SYNC_BIN = 3.0  # [ms]
SUBSAMPLE = 1000  # neurons per population in the synchrony measure


def rate(times, n: int, duration: float) -> float:
    """Mean rate [Hz] of ``n`` neurons with ``len(times)`` spikes in ``duration`` [ms]."""
    return len(times) / n / (duration * 1e-3)


def cv_isi(times, units) -> float:
    """Mean CV of inter-spike intervals over neurons with >= 3 spikes (NaN if none)."""
    times, units = np.asarray(times, float), np.asarray(units)
    order = np.lexsort((times, units))
    times, units = times[order], units[order]
    same = units[1:] == units[:-1]
    isi, owner = np.diff(times)[same], units[1:][same]
    if isi.size == 0:
        return float("nan")
    neurons, inverse, count = np.unique(owner, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, isi) / count
    var = np.bincount(inverse, isi**2) / count - mean**2
    ok = count >= 2
    if not ok.any():
        return float("nan")
    return float(np.mean(np.sqrt(np.maximum(var[ok], 0.0)) / mean[ok]))


def synchrony(times, units, n: int, duration: float, bin_ms: float = SYNC_BIN) -> float:
    """Variance / mean of the binned spike count of neurons ``< min(n, SUBSAMPLE)`` (NaN: none)."""
    times, units = np.asarray(times, float), np.asarray(units)
    picked = times[units < min(n, SUBSAMPLE)]
    edges = np.arange(0.0, duration + bin_ms / 2, bin_ms)
    counts, _ = np.histogram(picked, edges)
    mean = counts.mean() if counts.size else 0.0
    return float(counts.var() / mean) if mean > 0 else float("nan")


def population_table(spikes: dict, sizes, duration: float) -> dict:
    """``{population: {rate_hz, cv_isi, synchrony, spikes}}`` over ``duration`` [ms]."""
    table = {}
    for name, n in zip(P.POPULATIONS, sizes, strict=True):
        times, units = spikes[name]
        table[name] = {"rate_hz": rate(times, int(n), duration), "cv_isi": cv_isi(times, units),
                       "synchrony": synchrony(times, units, int(n), duration),
                       "spikes": len(times)}  # fmt: skip
    return table


def reference_band(tolerance: float = P.RATE_TOLERANCE) -> np.ndarray:
    """``[8, 2]`` accepted rate ranges [Hz]: the two published runs' range +- ``tolerance``."""
    low = np.minimum(P.RATES_NEST3, P.RATES_2016) * (1 - tolerance)
    high = np.maximum(P.RATES_NEST3, P.RATES_2016) * (1 + tolerance)
    return np.stack([low, high], axis=1)


def compare_rates(table: dict) -> dict:
    """Each population's rate beside the published ones: ``{name: {..., within}}``."""
    band = reference_band()
    out = {}
    for i, name in enumerate(P.POPULATIONS):
        value = table[name]["rate_hz"]
        out[name] = {"rate_hz": value, "nest3_hz": float(P.RATES_NEST3[i]),
                     "nest2016_hz": float(P.RATES_2016[i]), "band_hz": band[i].tolist(),
                     "within": bool(band[i, 0] <= value <= band[i, 1])}  # fmt: skip
    return out


def rank_agreement(rates) -> float:
    """Spearman correlation of 8 population rates with the published (NEST 3) ones."""
    a = np.argsort(np.argsort(np.asarray(rates, float)))
    b = np.argsort(np.argsort(P.RATES_NEST3))
    return float(np.corrcoef(a, b)[0, 1])
