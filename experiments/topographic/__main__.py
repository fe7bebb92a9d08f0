"""``python -m experiments.topographic``: the map formation study (see ``map.py``)."""

from .map import main

main()
