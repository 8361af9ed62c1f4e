"""The tree passes ruff (configured in pyproject.toml), so CI, which runs pytest, runs the linter."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks", "scripts"],
        cwd=ROOT, capture_output=True, text=True,
    )
    # ruff is in the testing extra (pip install -e '.[testing]'); without it this fails saying so
    assert result.returncode == 0, result.stdout + result.stderr
