"""The cortical microcircuit of Potjans & Diesmann (2014) at full or reduced scale, beside NEST.

``python -m experiments.microcircuit`` (see :mod:`.cli`); the speed
comparison with NEST is ``python -m experiments.microcircuit.benchmark``.
"""
