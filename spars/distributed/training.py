"""Data-parallel training (batch split, gradients averaged), with row-sharded synapses.

:func:`data_parallel` runs a gradient function such as
:func:`spars.learning.eprop_grads` or :func:`spars.learning.bptt_grads` on
each device's part of the batch and averages the gradients (``pmean``).
Sparse synapses made :class:`ShardedSynapses` by :func:`shard_synapses`
are split by rows over a second mesh axis as well: each device propagates
its rows and the partial inputs are summed (``psum``), so every device of a
row group runs the same neurons and a model too large for one device fits
on several.
"""

from collections.abc import Callable

import equinox as eqx
import jax
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Float

from ..connectivity import Connectivity
from ..learning.recurrent import Metrics
from ..learning.synapses import SparseSynapses, gather_post
from ._local import local_block, n_shards, rows_spec
from ._mesh import check_divides, shard_map
from .propagation import propagate_rows


class ShardedSynapses(eqx.Module):
    """Padded-row synapses whose rows are split over mesh axis ``axis``.

    Outside ``shard_map`` the arrays are global; inside, each device holds
    its rows, :meth:`propagate` takes the whole spike vector and returns the
    whole input (its rows' part summed over the devices).

    Attributes:
        conn: the connectivity (``[n_pre, max_row]``, split by rows).
        weight: ``[n_pre, max_row]`` weights, split by rows.
        axis: the mesh axis of the rows (static).
        n_pre: presynaptic neurons of all devices (static).
    """

    conn: Connectivity
    weight: Float[Array, "pre max_row"]
    axis: str = eqx.field(static=True)
    n_pre: int = eqx.field(static=True)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_pre, self.conn.n_post)

    @property
    def max_synapses(self):
        raise ValueError("online e-prop keeps traces over every row; with row-sharded synapses "
                         "use eprop_grads(online=False)")  # fmt: skip

    def propagate(self, spikes: Float[Array, "*b pre"]) -> Float[Array, "*b post"]:
        """Input ``[..., n_post]`` from the spikes ``[..., n_pre]`` (inside ``shard_map``)."""
        local = local_block(spikes, self.conn.n_pre, self.axis)
        return propagate_rows(self.conn, self.weight, local, axis=self.axis)

    def buffer(self, batch: int) -> None:
        del batch  # no delays

    def deliver(self, spikes, buffer: None):
        del buffer
        return self.propagate(spikes), None

    def at_synapses(self, post: Float[Array, "*b post"]) -> Float[Array, "*b pre max_row"]:
        """``post[..., indices]`` over this device's rows, 0 on padding."""
        return gather_post(post, self.conn.indices)


def shard_synapses(model, mesh: Mesh, axis: str):
    """``model`` with every :class:`~spars.learning.SparseSynapses` made :class:`ShardedSynapses`.

    Raises:
        ValueError: for synapses with delays, or rows the devices along
            ``axis`` do not divide.
    """
    def convert(node):
        if not isinstance(node, SparseSynapses):
            return node
        if node.delay is not None:
            raise ValueError("row-sharded synapses carry no delays")
        check_divides(node.conn.n_pre, mesh, axis, "n_pre (the rows of the synapses)")
        return ShardedSynapses(node.conn, node.weight, axis, node.conn.n_pre)

    return jax.tree.map(convert, model, is_leaf=lambda x: isinstance(x, SparseSynapses))


def unshard_synapses(model):
    """``model`` with its :class:`ShardedSynapses` made :class:`~spars.learning.SparseSynapses`."""
    def convert(node):
        return SparseSynapses(node.conn, node.weight) if isinstance(node, ShardedSynapses) else node

    return jax.tree.map(convert, model, is_leaf=lambda x: isinstance(x, ShardedSynapses))


def model_specs(model):
    """Specs of a model: :class:`ShardedSynapses` split by rows, everything else whole."""
    def spec(node):
        if isinstance(node, ShardedSynapses):
            return jax.tree.map(lambda x: rows_spec(x, node.axis), node)
        return P()

    return jax.tree.map(spec, model, is_leaf=lambda x: isinstance(x, ShardedSynapses))


def data_parallel(grad_fn: Callable, mesh: Mesh, *, batch_axis: str) -> Callable:
    """``grad_fn`` with the batch split over ``batch_axis`` and the gradients averaged.

    Args:
        grad_fn: ``(model, x [T, B, n_in], labels [B], *args, **kwargs) ->
            (grads, aux)``, e.g. :func:`spars.learning.eprop_grads` (its
            default, ``online=False``, with row-sharded synapses) or
            :func:`spars.learning.bptt_grads`; the loss must be a mean over
            the batch.
        mesh: the device mesh; its other axes may split the rows of the
            model's :class:`ShardedSynapses`.
        batch_axis: the mesh axis that splits the batch.

    Returns:
        ``f(model, x, labels, *args, **kwargs) -> (grads, aux)`` on global
        arrays: gradients of the whole batch, split like the model; ``aux``
        a :class:`~spars.learning.Metrics` of the whole batch (loss and rate
        averaged, ``correct`` summed) or averaged leaf by leaf. ``args`` and
        ``kwargs`` are whole on every device.

    Inside ``shard_map`` (without the replication check, see
    :func:`spars.distributed.shard_map`) the gradient of a loss that every
    device of a row group computes alike comes out ``D`` times each device's
    share: :func:`row_group_grads` turns it into the gradient.
    """

    def call(model, x, labels, *args, **kwargs):
        check_divides(x.shape[1], mesh, batch_axis, "the batch (x's second axis)")
        specs = model_specs(model)

        def body(model, x, labels):
            grads, aux = grad_fn(model, x, labels, *args, **kwargs)
            grads = row_group_grads(grads, model)
            grads = jax.tree.map(lambda g: lax.pmean(g, batch_axis), grads)
            return grads, _reduce_aux(aux, batch_axis)

        in_specs = (specs, P(None, batch_axis), P(batch_axis))
        return shard_map(body, mesh, in_specs, (specs, P()))(model, x, labels)

    return call


def row_group_grads(grads, model):
    """Per device: the gradients of a loss computed alike on every device of the row groups.

    ``jax.grad`` inside ``shard_map`` seeds the loss with 1 on every device
    and each collective's transpose sums over the devices, so every
    gradient is ``D`` (devices along the rows' axis) times this device's
    share: a row-sharded leaf is divided by ``D`` (its rows live on this
    device alone), a whole leaf is averaged over the axis (its shares sum
    to the gradient).

    Args:
        grads: the gradients, structured like ``model`` (None where untrained).
        model: the model with its :class:`ShardedSynapses`.
    """
    nodes = jax.tree.leaves(model, is_leaf=_is_sharded)
    axes = sorted({node.axis for node in nodes if _is_sharded(node)})

    def fix(node, g):
        if _is_sharded(node):
            others = [a for a in axes if a != node.axis]
            return jax.tree.map(lambda x: _pmean(x / n_shards(node.axis), others), g)
        return jax.tree.map(lambda x: _pmean(x, axes), g)

    return jax.tree.map(fix, model, grads, is_leaf=_is_sharded) if axes else grads


def _is_sharded(x) -> bool:
    return isinstance(x, ShardedSynapses)


def _pmean(g, axes):
    for axis in axes:
        g = lax.pmean(g, axis)
    return g


def _reduce_aux(aux, axis: str):
    if isinstance(aux, Metrics):
        return Metrics(lax.pmean(aux.loss, axis), lax.psum(aux.correct, axis),
                       lax.pmean(aux.rate, axis))  # fmt: skip
    return jax.tree.map(lambda a: lax.pmean(a, axis), aux)
