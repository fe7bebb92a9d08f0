"""The same microcircuit in NEST (``nest-simulator`` from PyPI), built as the PyNEST example does.

``iaf_psc_exp`` populations with the published parameters and initial
potentials, ``fixed_total_number`` connections (multapses and autapses
allowed) with weights and delays drawn by ``nest.math.redraw`` of normal
distributions (weights keep their sign, delays at least ``dt / 2``), a
``poisson_generator`` per population at ``k_ext x 8 Hz`` (weight
``weight_ext``, delay 1.5 ms) or the DC as ``I_e``, and one spike recorder
per population over the analysed window. Sizes, counts and weights come
from the same :class:`~.config.Model` as the spars network's.

NEST keeps at most 134,217,726 connections per virtual process and synapse
model: fewer than the full model's 2.99e8 on 1 or 2 threads. The synapses
of each source population therefore use a copy of ``static_synapse`` of
their own (at most 9.3e7 each), which changes nothing else.
"""

import time

import numpy as np

from . import params as P
from .config import Config, Model

POISSON_DELAY = 1.5  # delay of the background input in the PyNEST example [ms]


def available() -> bool:
    try:
        import nest  # noqa: F401
    except ImportError:
        return False
    return True


def run(m: Model, cfg: Config, threads: int) -> tuple[dict, dict]:
    """Builds and simulates the model; ``(spikes {population: (times, units)}, timings)``.

    Times [ms] count from the start of the analysed window, as spars' do.
    """
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": P.DT, "local_num_threads": threads,
                          "rng_seed": cfg.seed + 1, "print_time": False})  # fmt: skip
    start = time.perf_counter()
    pops = _populations(nest, m, cfg)
    _connect(nest, m, pops)
    recorders = _inputs_and_recorders(nest, m, cfg, pops)
    nest.Prepare()
    build = time.perf_counter() - start
    warm = time.perf_counter()
    if cfg.t_presim > 0:
        nest.Run(cfg.t_presim)
    warm = time.perf_counter() - warm
    start, cpu = time.perf_counter(), time.process_time()
    nest.Run(cfg.t_sim)
    sim, cpu = time.perf_counter() - start, time.process_time() - cpu
    nest.Cleanup()
    spikes = {}
    for name, pop, rec in zip(P.POPULATIONS, pops, recorders, strict=True):
        events = rec.get("events")
        spikes[name] = (np.asarray(events["times"]) - cfg.t_presim,
                        np.asarray(events["senders"]) - pop[0].global_id)  # fmt: skip
    timing = {"build_s": build, "warmup_s": warm, "sim_s": sim, "sim_cpu_s": cpu,
              "threads": threads, "bio_s": cfg.t_sim * 1e-3,
              "real_time_factor": sim / (cfg.t_sim * 1e-3)}  # fmt: skip
    return spikes, timing


def _populations(nest, m: Model, cfg: Config) -> list:
    pops = []
    for i in range(8):
        pop = nest.Create("iaf_psc_exp", int(m.sizes[i]))
        pop.set(tau_m=P.NEURON["tau_mem"], tau_syn_ex=P.NEURON["tau_syn"],
                tau_syn_in=P.NEURON["tau_syn"], C_m=P.NEURON["c_mem"], E_L=P.NEURON["v_rest"],
                V_th=P.NEURON["v_thresh"], V_reset=P.NEURON["v_reset"],
                t_ref=P.NEURON["tau_refrac"], I_e=float(m.dc[i]))  # fmt: skip
        mean, sd = P.V0_OPTIMIZED[i] if cfg.v0 == "optimized" else P.V0_ORIGINAL
        pop.V_m = nest.random.normal(mean=mean, std=sd)
        pops.append(pop)
    return pops


def _connect(nest, m: Model, pops: list) -> None:
    delays = P.mean_delays()
    for name in P.POPULATIONS:  # one synapse model per source (see the module docstring)
        nest.CopyModel("static_synapse", f"static_from_{name}")
    for t in range(8):
        for s in range(8):
            if m.synapses[t, s] <= 0:
                continue
            w = float(m.weights[t, s])
            low, high = (0.0, np.inf) if w > 0 else (-np.inf, 0.0)
            weight = nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * P.WEIGHT_REL_SD),
                                      min=low, max=high)  # fmt: skip
            d = float(delays[t, s])
            delay = nest.math.redraw(nest.random.normal(mean=d, std=d * P.DELAY_REL_SD),
                                     min=0.5 * P.DT, max=np.inf)  # fmt: skip
            nest.Connect(pops[s], pops[t], {"rule": "fixed_total_number",
                                            "N": int(m.synapses[t, s])},
                         {"synapse_model": f"static_from_{P.POPULATIONS[s]}",
                          "weight": weight, "delay": delay})  # fmt: skip


def _inputs_and_recorders(nest, m: Model, cfg: Config, pops: list) -> list:
    recorders = []
    for i, pop in enumerate(pops):
        if m.poisson:
            bg = nest.Create("poisson_generator", params={"rate": float(m.bg_rates[i])})
            nest.Connect(bg, pop, "all_to_all", {"weight": float(m.weight_ext),
                                                 "delay": POISSON_DELAY})  # fmt: skip
        rec = nest.Create("spike_recorder", params={"start": cfg.t_presim})
        nest.Connect(pop, rec)
        recorders.append(rec)
    return recorders
