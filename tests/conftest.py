import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "spars",
    max_examples=10 if os.environ.get("CI") else 20,  # each example compiles
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("spars")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# Files whose tests each take tens of seconds (subprocesses, whole experiments): collected
# first, so that pytest-xdist starts them early and the short tests fill in around them.
SLOW_FIRST = ("test_sharding.py", "test_experiments.py", "test_microcircuit.py",
              "test_topographic.py", "test_scale_out.py")  # fmt: skip


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order within each group is kept
