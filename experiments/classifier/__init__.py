"""The classifier study: sparse recurrent SNNs trained with e-prop or BPTT, with and without DEEP R.

``python -m experiments.classifier`` (see :mod:`.cli`); the time table is
``python -m experiments.classifier.benchmark``.
"""

from .cli import main as main
from .cli import parse_args as parse_args
