"""Bytes a device sends per step: measured layouts, and a model for 1-64 GPUs at 1M-100M neurons.

Ring collectives: a reduce-scatter of an ``S``-byte array sends ``(D - 1) / D
* S`` bytes from each device, an all-gather of ``s``-byte pieces ``(D - 1) *
s``. The model's assumptions (one network, ``B = 1``, every population the
size ``n``) are stated in docs/scale_out.md beside its table.
"""

import math

from spars.distributed import exchange

NEST_SPIKE_BYTES = 8  # sizeof(nest::SpikeData), one entry per spike and target rank


def rows_bytes(n: int, batch: int, devices: int, projections: int = 1) -> float:
    """Row-sharded projections: each reduce-scatters ``[batch, n]`` float32 input a step."""
    return projections * (devices - 1) / devices * 4 * batch * n


def exchange_bytes(counts, n: int, batch: int, devices: int, capacity: int | None) -> float:
    """Target-blocked projections: one spike exchange of a population of ``n`` (per-device
    spike ``counts`` of the step); :func:`spars.distributed.exchange.sent_bytes` to ``D - 1``."""
    if devices == 1:
        return 0.0
    entries = batch * n // devices
    return (devices - 1) * exchange.sent_bytes(counts, entries, capacity)


def per_second(n: int, devices: int, rate: float, dt_ms: float, min_delay_ms: float) -> dict:
    """Bytes one device sends per second of biological time, four ways, ``B = 1``.

    Args:
        n: neurons (one population, all synapses within it).
        devices: devices ``D``.
        rate: mean firing rate [Hz].
        dt_ms: time step [ms] (spars exchanges every step).
        min_delay_ms: NEST's communication interval [ms].
    """
    steps = 1e3 / dt_ms
    local = n / devices
    spikes_per_step = rate * dt_ms * 1e-3 * local
    ids = exchange.id_bytes(int(local))
    capacity = max(1, math.ceil(4 * spikes_per_step))  # a static list with room for 4x the mean
    return {
        "rows_reduce_scatter": rows_bytes(n, 1, devices) * steps,
        "bitmask_all_gather": (devices - 1) * exchange.bitmask_bytes(int(local)) * steps,
        "events_all_gather": (devices - 1) * (capacity * ids + 4) * steps,
        "nest_alltoall": (devices - 1) * NEST_SPIKE_BYTES * rate * local,
        "nest_exchanges_per_s": 1e3 / min_delay_ms,
        "spars_exchanges_per_s": steps,
    }


def table(neurons=(10**6, 10**7, 10**8), devices=(1, 2, 4, 8, 16, 32, 64), rate=5.0,
          dt_ms=0.1, min_delay_ms=1.5) -> list[dict]:  # fmt: skip
    """:func:`per_second` for every size and device count."""
    return [{"neurons": n, "devices": d, **per_second(n, d, rate, dt_ms, min_delay_ms)}
            for n in neurons for d in devices]  # fmt: skip
