"""Shared set-up of the tutorial tests: each tutorial runs once, as a script, in quick mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_tutorial(name: str, out: Path) -> str:
    """Run ``tutorials/<name>.py`` with ``CI=1`` (its quick mode), writing into ``out``;
    its stdout. One thread, so the numbers do not depend on the machine's core count."""
    env = {**os.environ, "CI": "1", "PROBEX_TUTORIAL_OUT": str(out), "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "tutorials" / f"{name}.py")], env=env,
                         cwd=out, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="session")
def run_tutorial():
    """``run_tutorial(name, out) -> stdout``: runs a tutorial script in quick mode."""
    return _run_tutorial
