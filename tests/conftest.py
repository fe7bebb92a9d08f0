import os

# The least XLA optimisation: the tests compile hundreds of programs to compare them, not to
# time them (set before jax starts its backend; an XLA_FLAGS that sets the level wins)
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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
