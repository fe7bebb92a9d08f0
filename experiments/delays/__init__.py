"""The delays study: a spike-timing task that one-step delays cannot solve and learned delays can.

``python -m experiments.delays`` (see :mod:`.cli`); the propagation benchmark
is ``python -m experiments.delays.benchmark``.
"""

from .cli import main as main
