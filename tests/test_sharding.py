"""Runs tests/sharding in processes with 4 forced CPU devices (meshes of 1, 2 and 4).

The main test processes have one CPU device and jax already started, so the
multi-device tests get a process of their own; each group of files is one
test here, so ``pytest -n auto`` runs the groups side by side.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# 4 CPU devices; the least XLA optimisation: these programs are compiled to be compared, not timed
FLAGS = ("--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0 "
         "--xla_llvm_disable_expensive_passes=true")
GROUPS = {
    "propagation": ["test_propagate.py", "test_simulate.py"],
    "rewiring": ["test_structure.py", "test_rules.py"],
    "training": ["test_training.py"],
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_sharded_equals_one_device(group):
    files = [str(ROOT / "tests" / "sharding" / name) for name in GROUPS[group]]
    env = {**os.environ, "XLA_FLAGS": FLAGS, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
               *files]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert " passed" in done.stdout and " skipped" not in done.stdout, report
