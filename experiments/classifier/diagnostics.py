"""What DEEP R does to the connectivity: churn, synapse lifetimes, where synapses go.

Everything here is measured on the host between batches and lands in each
run's ``metrics.json`` (per epoch, and ``initial``/``final`` snapshots) for
the figures of :mod:`.report`.
"""

import numpy as np

from . import model as M


class RemovalTally:
    """Sums DEEP R's per-batch statistics over an epoch."""

    def __init__(self):
        self.removed = {n: 0 for n in M.SPARSE}
        self.by_age = {n: np.zeros(M.AGE_BINS, np.int64) for n in M.SPARSE}
        self.excitatory = {n: 0 for n in M.SPARSE}
        self.added = self.failed = 0

    def add(self, stats) -> list[int]:
        """Adds one batch's ``rewire`` stats; returns ``[removed in, removed rec, failed]``."""
        for name in M.SPARSE:
            counts = stats[name]["counts"]
            self.removed[name] += int(counts.removed)
            self.added += int(counts.added)
            self.failed += int(counts.failed)
            self.by_age[name] += np.asarray(stats[name]["removed_by_age"])
            self.excitatory[name] += int(stats[name]["removed_excitatory"])
        return [int(stats[n]["counts"].removed) for n in M.SPARSE] + [
            sum(int(stats[n]["counts"].failed) for n in M.SPARSE)
        ]

    def summary(self) -> dict:
        if not any(self.removed.values()) and not self.added:
            return dict(removed=0, added=0, failed=0)
        return dict(
            removed=sum(self.removed.values()),
            added=self.added,
            failed=self.failed,
            removed_by_age={n: self.by_age[n].tolist() for n in M.SPARSE},
            removed_excitatory_fraction={
                n: self.excitatory[n] / max(self.removed[n], 1) for n in M.SPARSE
            },
        )


def connectivity(state: M.TrainState, n_rewired: int) -> dict:
    """Per epoch: how many synapses are original, and their weights beside the new ones.

    ``n_rewired``: rewiring steps so far; synapses older than that are original.
    """
    out = {}
    ages = {n: np.asarray(state.ages[n]) for n in M.SPARSE}
    masks = {n: np.asarray(state.conns[n].mask) for n in M.SPARSE}
    weights = M.weights_of(state.params, state.signs)
    for name in M.SPARSE:
        real, age = masks[name], ages[name][masks[name]]
        w = np.abs(np.asarray(weights[name]))[real]
        original = age > n_rewired
        out[f"original_fraction_{name}"] = float(original.mean()) if age.size else 0.0
        out[f"median_weight_original_{name}"] = _median(w[original])
        out[f"median_weight_new_{name}"] = _median(w[~original])
    return out


def informative_fraction(state: M.TrainState, informative) -> float:
    """Share of input synapses (dense: of input weight magnitude) from informative inputs."""
    if state.conns is None:
        w = np.abs(np.asarray(state.params["in"]))
        return float(w[informative].sum() / max(w.sum(), 1e-30))
    mask = np.asarray(state.conns["in"].mask)
    per_row = mask.sum(1)
    return float(per_row[informative].sum() / max(per_row.sum(), 1))


def snapshot(state: M.TrainState, informative=None) -> dict:
    """Weight histograms and, for sparse layouts, out-/in-degrees of both projections."""
    weights = M.weights_of(state.params, state.signs)
    snap = {}
    for name in M.SPARSE:
        w = np.asarray(weights[name])
        if state.conns is not None:
            conn = state.conns[name]
            mask = np.asarray(conn.mask)
            w = w[mask]
            snap[f"{name}_out_degree"] = np.asarray(conn.row_length).tolist()
            targets = np.asarray(conn.indices)[mask]
            snap[f"{name}_in_degree"] = np.bincount(targets, minlength=conn.n_post).tolist()
        density, edges = np.histogram(w.ravel(), bins=40, density=True)
        snap[f"{name}_weights"] = {"density": density.tolist(), "edges": edges.tolist()}
    if informative is not None:
        snap["informative_fraction"] = informative_fraction(state, informative)
    return snap


def _median(values) -> float | None:
    return float(np.median(values)) if values.size else None
