"""Event times to time steps, as the established simulators bin them."""

import numpy as np


def time_steps(times, dt: float) -> np.ndarray:
    """``int64`` step of each event time [ms]: ``floor(t / dt)``, boundaries exact.

    ``0.3 / 0.1`` is 2.9999999999999996 in floating point; a plain floor
    would put an event at 0.3 ms into step 2 instead of 3. A time within a
    few rounding errors of its own precision (float32 or float64) below a
    step boundary counts as on it.
    """
    times = np.asarray(times)
    eps = np.finfo(times.dtype).eps if np.issubdtype(times.dtype, np.floating) else 0.0
    ratio = times.astype(np.float64) / dt
    return np.floor(ratio + 8 * eps * np.abs(ratio) + 1e-12).astype(np.int64)
