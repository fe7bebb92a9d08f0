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
