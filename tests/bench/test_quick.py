"""The benchmarks still run (quick sizes); no time is asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_quick_runs_and_prints_machine_and_figures() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("machine: ")
    assert "dry run ncm622-cycling" in out.stdout and "baseline" in out.stdout
