"""The non-spiking baseline of the classifier study: a GRU on the same binned inputs.

Every SNN in the table is measured against it: same frames ``[T, B, n_in]``,
same batches, epochs and data order, Adam, cross-entropy on the readout of
the time-averaged hidden state.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from .model import learning_rate


class GRUClassifier(eqx.Module):
    """``x [T, B, n_in] -> logits [B, n_out]``: a GRU, its states averaged over time, a readout.

    The cell is :class:`equinox.nn.GRUCell`'s, computed batch-wide with the
    input projection of all ``T`` steps as one matrix product before the
    scan. ``input_gain`` scales the inputs as the SNNs' ``--gain-in`` scales
    their input weights (the cell's initialisation assumes inputs of unit scale).
    """

    cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear
    input_gain: float = eqx.field(static=True)

    def __init__(self, n_in: int, hidden: int, n_out: int, *, input_gain: float = 1.0, key):
        k_cell, k_out = jax.random.split(key)
        self.cell = eqx.nn.GRUCell(n_in, hidden, key=k_cell)
        self.readout = eqx.nn.Linear(hidden, n_out, key=k_out)
        self.input_gain = input_gain

    def __call__(self, x):
        cell = self.cell
        drive = (self.input_gain * x) @ cell.weight_ih.T + cell.bias  # [T, B, 3H]

        def step(h, drive_t):
            i_reset, i_update, i_new = jnp.split(drive_t, 3, axis=-1)
            h_reset, h_update, h_new = jnp.split(h @ cell.weight_hh.T, 3, axis=-1)
            reset = jax.nn.sigmoid(i_reset + h_reset)
            update = jax.nn.sigmoid(i_update + h_update)
            new = jnp.tanh(i_new + reset * (h_new + cell.bias_n))
            h = new + update * (h - new)
            return h, h

        h0 = jnp.zeros((x.shape[1], cell.hidden_size), x.dtype)
        _, states = jax.lax.scan(step, h0, drive)
        return jax.vmap(self.readout)(states.mean(0))


def batch_logits(model: GRUClassifier, x):
    """Logits ``[B, n_out]`` of frames ``x [T, B, n_in]``."""
    return model(x)


def optimizer(args) -> optax.GradientTransformation:
    """Adam, with the SNNs' schedule (see :func:`.model.learning_rate`)."""
    return optax.adam(learning_rate(args, args.baseline_lr))


def make_train_step(args):
    """``step(net, opt_state, x, labels) -> (net, opt_state, summed loss, correct)``."""
    opt = optimizer(args)

    @eqx.filter_jit
    def step(net, opt_state, x, labels):
        def loss(net):
            logits = batch_logits(net, x)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            return ce.mean(), jnp.sum(jnp.argmax(logits, -1) == labels)

        (value, correct), grads = eqx.filter_value_and_grad(loss, has_aux=True)(net)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(net, eqx.is_array))
        return eqx.apply_updates(net, updates), opt_state, value, correct

    return step


@eqx.filter_jit
def evaluate_batch(net, x, labels, valid):
    """Summed cross-entropy and correct count over the ``valid`` samples of a batch."""
    logits = batch_logits(net, x)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = jnp.argmax(logits, -1) == labels
    return jnp.sum(jnp.where(valid, ce, 0.0)), jnp.sum(correct & valid)


def parameter_count(net) -> int:
    return int(sum(a.size for a in jax.tree.leaves(eqx.filter(net, eqx.is_array))))
