"""Ruff and mypy are part of the suite: a lint or type error fails CI like a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_clean() -> None:
    # mypy with pyproject's package-dir mapping (drivers/ is cyclerctl.drivers): .ci/typecheck.py
    typecheck = str(REPO / ".ci" / "typecheck.py")
    result = _run(sys.executable, typecheck, "cyclerctl", "drivers", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
