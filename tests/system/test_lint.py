"""The code stays ruff- and mypy-clean: checked in the suite so CI enforces it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from api.settings import PROJECT_ROOT

# slow: mypy over the whole tree takes a minute on a loaded machine (`make lint` is the loop)
pytestmark = pytest.mark.slow


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def test_ruff() -> None:
    """ruff check and ruff format --check report nothing."""
    ruff = [sys.executable, "-m", "ruff"]
    check = _run(*ruff, "check", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run(*ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy() -> None:
    """mypy (configured in pyproject.toml) reports nothing."""
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
