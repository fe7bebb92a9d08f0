"""Peers and yardsticks for the benchmarks: brainevent's formats, memory bandwidth."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common.timing import time_call

# Nominal peak memory bandwidth [GB/s] by device kind (vendor data sheets).
NOMINAL_GB_PER_S = {
    "NVIDIA H100 80GB HBM3": 3350.0,
    "NVIDIA H100 PCIe": 2000.0,
    "NVIDIA H200": 4800.0,
    "NVIDIA A100-SXM4-80GB": 2039.0,
    "NVIDIA A100-SXM4-40GB": 1555.0,
}


def peak_bandwidth() -> dict:
    """``{"nominal": GB/s or None, "copy": GB/s of a measured device copy}``."""
    kind = jax.devices()[0].device_kind
    nominal = next((v for k, v in NOMINAL_GB_PER_S.items() if kind.startswith(k)), None)
    size = 2**28 if jax.default_backend() == "gpu" else 2**24  # float32 elements
    x = jnp.ones((size,), jnp.float32)
    milliseconds = time_call(jax.jit(lambda a: a + 1.0), x, reps=5)
    return {"nominal": nominal, "copy": 2 * 4 * size / milliseconds / 1e6}


def brainevent_forward(pre, post, weights, shape):
    """``(forward(w, s), data)`` through brainevent's event-driven CSR, or None if absent."""
    try:
        import brainevent
    except ImportError:
        return None
    order = np.lexsort((post, pre))
    pre, post, weights = pre[order], post[order], weights[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=shape[0]))])
    indices, indptr = jnp.asarray(post, jnp.int32), jnp.asarray(indptr, jnp.int32)
    events = getattr(brainevent, "BinaryArray", None) or brainevent.EventArray

    def forward(data, spikes):
        csr = brainevent.CSR((data, indices, indptr), shape=shape)
        return events(spikes) @ csr

    return forward, jnp.asarray(weights)


def brainevent_fixed_forward(indices, weights, shape):
    """``(forward(w, s), data)`` through brainevent's fixed-number-per-pre format (equal rows)."""
    try:
        import brainevent
    except ImportError:
        return None
    fixed = getattr(brainevent, "FixedNumPerPre", None) or brainevent.FixedPostNumConn
    events = getattr(brainevent, "BinaryArray", None) or brainevent.EventArray
    indices = jnp.asarray(indices, jnp.int32)

    def forward(data, spikes):
        return events(spikes) @ fixed(data, indices, shape=shape)

    return forward, jnp.asarray(weights)
