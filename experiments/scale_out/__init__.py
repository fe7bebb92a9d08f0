"""The scale-out study: bytes and time per step vs number of devices, and a model beyond.

``python -m experiments.scale_out`` (see :mod:`.cli`).
"""

from .cli import main as main
