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
    for figure in (
        "ingest 200,000 samples, store writer",
        "baseline: raw sqlite3 executemany",
        "ratio store / raw",
        "QCoDeS DataSaver",
        "ratio store / QCoDeS",
        "read back a 100,000-point run, Store.samples",
        "baseline: raw sqlite3 fetchall",
        "daemon memory, 16 sim channels",
        "baseline: same daemon and channels, no runs: peak RSS MB",
        "commit lag p50 / p99 / max",
        "scale: dry run CPU per stored point",
        "sim channels at 1 Hz: CPU per stored point",
        "per-channel lag p99: median / worst",
        "channels with lag p99 0–0.5 s",
        "safety reaction, limit crossed → channel stopped",
        "sim channels at 10 Hz: CPU per stored point",
        "tui baseline: raw status query (Store.channel_status)",
        "tui whole frame, read asked -> frame written",
        "tui keypress to effect",
        "import TESTCELL0001-B2-2025-M50T_NewareNDA_Investigation.ndax (77,745 records",
        "baseline: fastnda.read + raw sqlite3.executemany of the rows",
        "ratio import / baseline",
        "web overview 32 channels: GET / (server, p50)",
        "web baseline: raw status query (Store.channel_status, p50)",
        "web 100,000-point run: plot data bytes",
        "web baseline: raw sqlite3 fetch of t, V, I",
    ):
        assert figure in out.stdout, figure
