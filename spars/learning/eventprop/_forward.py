"""EventProp's forward pass: the simulation, keeping only what the adjoint needs.

Kept: the spike record (``_record``), the spikes per step, each hidden
neuron's spike count and summed free potential, the readout (``[T, B,
n_out]`` potentials: ``n_out`` values a step) or each readout neuron's
first spike (time, step, sigma, inv_slope). Nothing else of the ``T x B x n`` states is stored.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _record as R
from ._simulate import Carry, cells_of, initial_carry, step


class Forward(NamedTuple):
    record: R.SpikeRecord
    counts: jax.Array  # int32[T]: hidden spikes per step (whole batch)
    per_neuron: jax.Array  # [B, n]: spike count of each hidden neuron
    v_free_sum: jax.Array  # [B, n]: hidden free potentials summed over the steps [mV]
    readout: jax.Array  # [T, B, n_out] potentials, or [B, n_out] first spike times [ms]
    first: tuple | None  # spiking readout: (time, fired, sigma, inv_slope, step)


def forward(model, x, capacity: int) -> Forward:
    """Runs the simulation over ``x [T, B, n_in]`` with a record of ``capacity`` spikes."""
    n_steps, batch = x.shape[:2]
    n = model.hidden.n
    dtype = jnp.result_type(model.w_out.dtype, float)
    cells = cells_of(model)
    size, _ = R.window(batch, n)

    def body(state, inputs):
        carry, record, per_neuron, v_sum = state
        k, x_k = inputs
        carry, (spikes, v_free, y) = step(model, cells, carry, x_k, k, events=True)
        ids, count = R.list_spikes(spikes.z, size)
        record = R.write(record, capacity, ids, count, spikes.sigma, spikes.inv_slope)
        carry = carry._replace(listed=(ids, count))
        return (carry, record, per_neuron + spikes.z, v_sum + v_free), (count, y)

    init: Carry = initial_carry(model, batch, dtype)
    init = init._replace(listed=(jnp.full((size,), batch * n, jnp.int32), jnp.int32(0)))
    zeros = jnp.zeros((batch, n), dtype)
    state = (init, R.empty_record(capacity, batch, n, dtype), zeros, zeros)
    ks = jnp.arange(n_steps, dtype=jnp.int32)
    (carry, record, per_neuron, v_sum), (counts, y) = jax.lax.scan(body, state, (ks, x))
    if model.spiking_readout:
        time, fired = carry.first[:2]
        y = jnp.where(fired, time, n_steps) * model.hidden.dt
    return Forward(record, counts, per_neuron, v_sum, y, carry.first)
