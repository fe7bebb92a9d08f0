"""Sharded equality tests: they need several devices and run from tests/test_sharding.py.

That test starts ``pytest tests/sharding`` in a process with 4 forced CPU
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``); each test
compares meshes of 1, 2 and 4 of them with one device. Run them by hand with::

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m pytest -n 0 tests/sharding
"""

import jax
import pytest

from spars import distributed as dist

DEVICES = 4


def pytest_collection_modifyitems(config, items):
    del config
    if jax.device_count() >= DEVICES:
        return
    skip = pytest.mark.skip(reason="needs 4 devices: run through tests/test_sharding.py")
    for item in items:
        if "tests/sharding/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


def row_meshes():
    """Meshes of 1, 2 and 4 devices along one axis ``"rows"``."""
    return [dist.make_mesh((d,), ("rows",), devices=jax.devices()[:d]) for d in (1, 2, 4)]
