"""A spike-timing task: the class is the interval between two cue spikes.

Each trial has ``n_channels`` input channels that fire exactly once: cue A
(channel 0) at a random onset, cue B (channel 1) ``interval[c]`` ms later,
and distractors at uniform random times. Every class has the same spikes per
channel and the same onset distribution; only the A-B interval tells the
classes apart. A feed-forward layer of fast neurons whose inputs all arrive
one step after they are sent sees A and B at different steps and cannot tell
the intervals apart; a neuron with delays ``d_A - d_B = interval`` sees them
coincide.
"""

import numpy as np

INTERVALS = (4, 8, 12, 16, 20)  # [steps], one class each


def timing_task(seed: int, n_samples: int, *, n_steps: int = 60, n_channels: int = 16,
                intervals=INTERVALS, margin: int = 10):  # fmt: skip
    """Spikes ``float32[n_samples, n_steps, n_channels]`` and labels ``int32[n_samples]``.

    Args:
        seed: the task's random seed.
        n_samples: trials.
        n_steps: trial length [steps].
        n_channels: cues A and B plus ``n_channels - 2`` distractors.
        intervals: the A-B interval of each class [steps].
        margin: steps kept free after cue B (the network's time to answer).
    """
    longest = max(intervals)
    if n_channels < 2 or n_steps <= longest + margin:
        raise ValueError(f"need n_channels >= 2 and n_steps > {longest + margin}, got "
                         f"{n_channels}, {n_steps}")  # fmt: skip
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(intervals), n_samples).astype(np.int32)
    onset = rng.integers(0, n_steps - longest - margin, n_samples)
    times = rng.integers(0, n_steps, (n_samples, n_channels))
    times[:, 0] = onset
    times[:, 1] = onset + np.asarray(intervals)[labels]
    x = np.zeros((n_samples, n_steps, n_channels), np.float32)
    x[np.arange(n_samples)[:, None], times, np.arange(n_channels)[None, :]] = 1.0
    return x, labels
