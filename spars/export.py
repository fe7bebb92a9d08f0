"""Trained networks out of spars: NIR graphs and plain COO arrays.

:func:`to_nir` writes a :class:`~spars.learning.RecurrentSNN` as a NIR graph
(``pip install nir``): NIR has no sparse weight node, so sparse synapses are
densified into ``Linear`` nodes. spars' neurons are discrete,
``v <- v_rest + alpha (v - v_rest) + drive`` with ``alpha = exp(-dt / tau)``;
they are written as NIR's continuous ``tau dv/dt = (v_leak - v) + r I`` with
``tau = dt / (1 - alpha)`` and ``r = tau / dt``, so that one forward-Euler
step of ``dt`` (the convention of snnTorch's NIR bridge) reproduces spars'
step exactly; a neuron's ``bias`` goes into ``v_leak``. ``dt``, the initial
potential and spars' own constants go into each node's metadata.

:func:`network_to_coo` gives every projection of a :class:`~spars.Network`
as ``pre``, ``post`` and its per-synapse variables, real synapses only.
"""

import numpy as np

from .convert import to_coo, to_dense
from .learning.recurrent import RecurrentSNN
from .learning.synapses import SparseSynapses
from .neurons import ALIF, LIF, LeakyIntegrator
from .simulate import Network


def to_nir(model: RecurrentSNN):
    """The input -> recurrent (A)LIF -> leaky readout classifier as a ``nir.NIRGraph``.

    Nodes ``input``, ``w_in``, ``hidden``, ``w_rec``, ``w_out`` (``Affine``:
    the readout bias), ``readout``, ``output``; the ``w_rec`` edge back into
    ``hidden`` carries the previous step's spikes. Weights are ``[out, in]``.

    Raises:
        ValueError: for what NIR cannot hold: ALIF neurons, per-synapse
            delays, refractory periods.
    """
    import nir

    hidden, readout = model.hidden, model.readout
    if not isinstance(hidden, LIF):
        raise ValueError(f"to_nir exports LIF hidden layers (voltage-jump synapses), got "
                         f"{type(hidden).__name__}")  # fmt: skip
    if isinstance(hidden, ALIF):
        raise ValueError("NIR has no adaptive (ALIF) neuron: export a LIF hidden layer")
    if model.has_delays:
        raise ValueError("NIR has no per-synapse delays: export a model without delays")
    if float(hidden.tau_refrac) > 0:
        raise ValueError(f"NIR's LIF has no refractory period (tau_refrac={hidden.tau_refrac})")
    nodes = {
        "input": nir.Input(input_type={"input": np.array([model.n_in])}),
        "w_in": nir.Linear(weight=_dense(model.w_in).T),
        "hidden": _lif(hidden),
        "w_rec": nir.Linear(weight=_dense(model.w_rec).T),
        "w_out": nir.Affine(weight=np.asarray(model.w_out).T, bias=np.asarray(model.b_out)),
        "readout": _li(readout),
        "output": nir.Output(output_type={"output": np.array([readout.n])}),
    }
    edges = [("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_rec"), ("w_rec", "hidden"),
             ("hidden", "w_out"), ("w_out", "readout"), ("readout", "output")]  # fmt: skip
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"source": "spars", "dt": hidden.dt})


def network_to_coo(network: Network) -> dict:
    """``name -> {"pre", "post", "weight"[, "delay"], "source", "target", "n_post"}``.

    ``pre``/``post`` index the real synapses, row-major, as in
    :func:`spars.to_coo`; ``source``/``target`` name the populations.
    """
    out = {}
    for name, proj in network.projections.items():
        pre, post, weight = to_coo(proj.conn, proj.weights)
        entry = {"source": proj.pre, "target": proj.post, "n_post": proj.conn.n_post,
                 "pre": pre, "post": post, "weight": weight}  # fmt: skip
        if proj.delays is not None:
            entry["delay"] = to_coo(proj.conn, proj.delays)[2]
        out[name] = entry
    return out


def _dense(synapses) -> np.ndarray:
    if isinstance(synapses, SparseSynapses):
        return np.asarray(to_dense(synapses.conn, synapses.weight))
    return np.asarray(synapses.weight)


def _euler(tau: float, dt: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """NIR ``(tau, r)`` whose Euler step of ``dt`` decays by ``exp(-dt / tau)`` and adds ``I``."""
    alpha = float(np.exp(-dt / tau))
    tau_nir = dt / (1.0 - alpha)
    return np.full(n, tau_nir), np.full(n, tau_nir / dt)


def _leak(v_rest, neuron) -> np.ndarray:
    """NIR ``v_leak``: the resting potential shifted by the bias, ``b / (1 - alpha)``."""
    alpha = float(np.exp(-float(neuron.dt) / float(neuron.tau_mem)))
    bias = np.broadcast_to(np.asarray(neuron.bias, float), (neuron.n,))
    return np.asarray(v_rest, float) + bias / (1.0 - alpha)


def _lif(neuron: LIF):
    import nir

    tau, r = _euler(float(neuron.tau_mem), float(neuron.dt), neuron.n)
    full = lambda x: np.full(neuron.n, float(x))  # noqa: E731
    reset = "subtract" if neuron.reset_by_subtraction else "to_v_reset"
    meta = {"dt": neuron.dt, "tau_mem": neuron.tau_mem, "reset": reset,
            "spike_when": "v >= v_threshold", "v_initial": float(neuron.v_rest)}  # fmt: skip
    leak = _leak(full(neuron.v_rest), neuron)
    return nir.LIF(tau=tau, r=r, v_leak=leak, v_threshold=full(neuron.v_thresh),
                   v_reset=full(neuron.v_reset), metadata=meta)  # fmt: skip


def _li(neuron: LeakyIntegrator):
    import nir

    tau, r = _euler(float(neuron.tau_mem), float(neuron.dt), neuron.n)
    meta = {"dt": neuron.dt, "tau_mem": neuron.tau_mem}
    return nir.LI(tau=tau, r=r, v_leak=_leak(np.zeros(neuron.n), neuron), metadata=meta)
