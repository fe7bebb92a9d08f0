"""``simulate`` with every population split by neuron over one mesh axis.

Device ``d`` of ``D`` simulates neurons ``[d * n / D, (d + 1) * n / D)`` of
every population (state, per-neuron parameters, external drive and
records all split along their last axis). Each projection brings its input
in one of three ways:

* a row-sharded :class:`~spars.Projection` (the default): the device holds
  the rows of its own presynaptic neurons, so it needs no other device's
  spikes; its partial input to every postsynaptic neuron is reduce-scattered
  (``B * n_post`` values a step, whatever the activity);
* a :class:`~spars.distributed.BlockedProjection`: the device holds the
  synapses onto its own neurons and reads the whole spike vector of the
  presynaptic population, which is exchanged once per step
  (:func:`~spars.distributed.gather_spikes`: a bitmask or an event list);
* a projection named in ``replicated``: every device holds all of it, reads
  the whole spike vector (the same exchange) and keeps its block of the input.

Poisson sources draw the whole population's numbers on every device and
keep their block, so results equal one device's for any device count.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from .. import _poisson
from ..connectivity import Connectivity
from ..neurons import LIF, ConductanceLIF, PoissonSource
from ..projections import OneToOne
from ..propagation import propagate as propagate_local
from ..simulate import Network, NetworkState
from ._local import last_spec, local_block, rows_spec
from ._mesh import axis_size, check_divides, shard_map
from .blocks import BlockedProjection
from .exchange import gather_spikes
from .propagation import propagate_rows

SPIKING = (LIF, ConductanceLIF, PoissonSource)  # outputs are 0/1: sent as bits or events


def simulate(
    network: Network,
    state: NetworkState,
    n_steps: int,
    *,
    mesh: Mesh,
    axis: str,
    external: dict | None = None,
    record: Callable[[NetworkState], Any] | None = None,
    replicated: tuple[str, ...] = (),
    event_capacity: int | None = None,
) -> tuple[NetworkState, Any]:
    """:func:`spars.simulate` with the populations split by neuron over ``mesh`` axis ``axis``.

    Args:
        network, state, n_steps, external: as :func:`spars.simulate`
            (global arrays; ``external[name]`` is ``[n_steps, *batch, n]``).
        mesh: the device mesh.
        axis: the mesh axis that splits the neurons (and the projections).
        record: maps each step's (per-device) state to arrays whose last
            axis is a population's neurons; default every population's output.
        replicated: projections kept whole on every device (see module docstring).
        event_capacity: events per device and step of the spike exchange
            (see :mod:`spars.distributed.exchange`).

    Returns:
        ``(final_state, records)`` as global arrays split by neuron, equal to
        :func:`spars.simulate`'s up to the order of float sums of
        row-sharded input. Wrap the call in ``jax.jit`` (``n_steps`` and the
        keyword arguments static) to compile it once for repeated runs.

    Raises:
        ValueError: a population or projection that the devices along
            ``axis`` do not divide (named, with the sizes), a delayed projection.
    """
    if not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be an int >= 0 (static), got {n_steps!r}")
    devices = _check(network, mesh, axis, replicated)
    record = record or (lambda s: s.outputs)
    specs = (_network_specs(network, axis, replicated), _state_specs(network, state, axis))
    ext_spec = P() if external is None else {k: last_spec(x, axis) for k, x in external.items()}
    rec_shape = jax.eval_shape(record, state)
    out_specs = (specs[1], jax.tree.map(lambda x: P(None, *last_spec(x, axis)), rec_shape))
    options = {"axis": axis, "replicated": tuple(replicated), "capacity": event_capacity,
               "devices": devices}  # fmt: skip

    def run(network, state, external):
        def body(s, ext):
            s = sharded_step(network, s, ext, **options)
            return s, record(s)

        return lax.scan(body, state, external, length=n_steps)

    return shard_map(run, mesh, (*specs, ext_spec), out_specs)(network, state, external)


def sharded_step(network: Network, state: NetworkState, external, *, axis: str,
                 replicated=(), capacity=None, devices=1) -> NetworkState:  # fmt: skip
    """One step of :func:`simulate`, per device (inside ``shard_map``)."""
    gathered = {}

    def whole(pop: str):
        """The whole spike vector of ``pop``, exchanged at most once this step."""
        if pop not in gathered:
            source = network.populations[pop]
            binary = isinstance(source, SPIKING) and not getattr(source, "counts", False)
            gathered[pop] = gather_spikes(state.outputs[pop], axis, binary=binary,
                                          event_capacity=capacity)  # fmt: skip
        return gathered[pop]

    drive = dict(external or {})
    for name, proj in network.projections.items():
        if isinstance(proj, OneToOne):  # neuron i's block and its target's block coincide
            current = proj.input(state.outputs[proj.pre])
        elif isinstance(proj, BlockedProjection):
            local = Connectivity(proj.blocks.indices[0], proj.blocks.row_length[0],
                                 proj.blocks.n_post // devices)  # this device's block
            current = propagate_local(local, proj.weights[0], whole(proj.pre))
        elif name in replicated:
            full = propagate_local(proj.conn, proj.weights, whole(proj.pre))
            current = local_block(full, proj.conn.n_post // devices, axis)
        else:
            current = propagate_rows(proj.conn, proj.weights, state.outputs[proj.pre],
                                     axis=axis, scatter=True)  # fmt: skip
        drive[proj.post] = current + drive[proj.post] if proj.post in drive else current
    states, outputs = {}, {}
    for name, pop in network.populations.items():
        step = _poisson_step if isinstance(pop, PoissonSource) else _plain_step
        outputs[name], states[name] = step(name, pop, state.populations[name], drive.get(name),
                                           axis)  # fmt: skip
    return NetworkState(states, outputs, {})


def _plain_step(name, pop, state, drive, axis):
    del axis
    keys = [x for x in jax.tree.leaves(state) if jnp.issubdtype(jnp.result_type(x),
                                                                 jax.dtypes.prng_key)]  # fmt: skip
    if keys:
        raise ValueError(f"population {name!r} ({type(pop).__name__}) draws random numbers in "
                         "its step; split over devices it would draw the same numbers on each "
                         "(PoissonSource is handled)")  # fmt: skip
    return pop.step(state, drive)


def _poisson_step(name, pop: PoissonSource, state, drive, axis):
    """:meth:`PoissonSource.step`: the whole population's words (as on one device), this block's
    spikes from them (``pop`` holds this block's rates)."""
    del name
    key, sub = jax.random.split(state.key)
    shape = state.template.shape
    words = local_block(_poisson.bits(sub, (*shape[:-1], pop.n)), shape[-1], axis)
    spikes = pop.spikes(words, drive).astype(state.template.dtype)
    return spikes, type(state)(key, state.template)


def _check(network: Network, mesh: Mesh, axis: str, replicated) -> int:
    devices = axis_size(mesh, axis)
    for name, pop in network.populations.items():
        check_divides(pop.n, mesh, axis, f"population {name!r}'s size")
    unknown = sorted(set(replicated) - set(network.projections))
    if unknown:
        raise ValueError(f"replicated names unknown projections {unknown}")
    for name, proj in network.projections.items():
        if getattr(proj, "delays", None) is not None:
            raise ValueError(f"projection {name!r} has delays; spars.distributed.simulate "
                             "runs projections without delays")  # fmt: skip
        if isinstance(proj, BlockedProjection) and name in replicated:
            raise ValueError(f"projection {name!r} is split by target blocks; it cannot be "
                             "replicated too")  # fmt: skip
        if isinstance(proj, BlockedProjection) and proj.blocks.n_blocks != devices:
            raise ValueError(f"projection {name!r} has {proj.blocks.n_blocks} target blocks; "
                             f"mesh axis {axis!r} has {devices} devices: split it into "
                             f"{devices} (split_targets)")  # fmt: skip
    return devices


def _network_specs(network: Network, axis: str, replicated):
    """Populations split by neuron; projections by their leading axis (rows or blocks)."""
    pops = {name: _neuron_specs(pop, pop.n, axis) for name, pop in network.populations.items()}
    projs = {name: jax.tree.map(lambda x, whole=name in replicated: P() if whole
                                or jnp.ndim(x) == 0 else rows_spec(x, axis), proj)
             for name, proj in network.projections.items()}  # fmt: skip
    specs = jax.tree.map(lambda _: P(), network)
    return eqx.tree_at(lambda n: (n.populations, n.projections), specs, (pops, projs))


def _state_specs(network: Network, state: NetworkState, axis: str):
    pops = {name: _neuron_specs(s, network.populations[name].n, axis)
            for name, s in state.populations.items()}  # fmt: skip
    outputs = {name: last_spec(x, axis) for name, x in state.outputs.items()}
    return NetworkState(pops, outputs, {})


def _neuron_specs(tree, n: int, axis: str):
    """Leaves whose last axis has ``n`` entries split by neuron; the rest whole."""
    def spec(x):
        shape = jnp.shape(x)
        return last_spec(x, axis) if shape and shape[-1] == n else P()

    return jax.tree.map(spec, tree)
