"""Daemon under load: N simulated channels at 1 point/s in real time, one daemon, SQLite.

Figures over a fixed window once every run is logging:

- the daemon's CPU share (its process's user + system time / wall time, from /proc; 100 %
  is one core busy), and per channel;
- the commit lag of every point: how long after it was measured it was committed and
  visible to every reader. Each commit stamps ``channel_latest.updated_at`` with the newest
  point's run time ``t``; the points of that commit are the ones after the previous
  commit's ``t`` (1 s apart), each measured at the run's ``start`` event (wall clock at run
  time 0) + its own run time (the simulator runs at real time × 1). channel_latest is
  polled at 20 Hz, several times per commit; a commit missed would only make lags longer.

Baseline in the same run: the same daemon, the same channels configured, no runs (what the
heartbeat and the queue/command polling cost on their own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from cyclerctl.store import Store

REPO = Path(__file__).resolve().parents[1]

PROTOCOL = """\
name = "bench-hold"
description = "a long rest, every point stored"
[record]
every = "1 s"
[[steps]]
type = "rest"
until = { time = "10 h" }
"""


def _config(folder: Path, channels: int) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n'
        '[daemon]\nname = "bench"\nheartbeat = "2 s"\nstale_after = "15 s"\n'
        f'[[instruments]]\nname = "sim"\ndriver = "sim"\nchannels = {channels}\nspeed = 1\n'
    )
    return path


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "cyclerctl", "daemon", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait(what: str, check: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out waiting for {what}")
        time.sleep(0.1)


def _cpu_share(process: subprocess.Popen[bytes], window_s: float) -> float:
    cpu0, wall0 = _cpu_s(process.pid), time.monotonic()
    time.sleep(window_s)
    return (_cpu_s(process.pid) - cpu0) / (time.monotonic() - wall0)


def idle(folder: Path, channels: int, window_s: float) -> float:
    """CPU share of a daemon with ``channels`` configured and nothing to run."""
    config = _config(folder, channels)
    store = Store.open(f"sqlite:///{folder / 'bench.db'}")
    process = _start(config, folder / "idle.log")
    try:
        _wait("a heartbeat", lambda: store.daemons(), 30)
        time.sleep(1.0)  # past start-up
        return _cpu_share(process, window_s)
    finally:
        _stop(process)
        store.close()


def loaded(folder: Path, channels: int, window_s: float) -> dict[str, float]:
    from cyclerctl.protocol import load_plan

    config = _config(folder, channels)
    (folder / "hold.toml").write_text(PROTOCOL)
    plan = load_plan(str(folder / "hold.toml"), "ncm622-coin")
    store = Store.open(f"sqlite:///{folder / 'bench.db'}")
    runs = [
        store.submit_run(plan, operator="bench", channel=f"sim:{n}").id
        for n in range(1, channels + 1)
    ]
    process = _start(config, folder / "loaded.log")
    try:
        _wait("every run to log", lambda: all(store.last_seq(r) > 1 for r in runs), 120)
        origin = {r: _origin(store, r) for r in runs}
        time.sleep(1.0)
        first = {r: store.last_seq(r) for r in runs}
        cpu0, wall0 = _cpu_s(process.pid), time.monotonic()
        lags: list[float] = []
        commits = 0
        seen: dict[str, float] = {}
        while time.monotonic() - wall0 < window_s:
            for row in store.channel_latest():
                if row["run_id"] not in origin or row["t"] is None:
                    continue
                before = seen.get(row["channel"])
                seen[row["channel"]] = row["t"]
                if before is None or before == row["t"]:
                    continue  # the first look is only where counting starts
                committed: datetime = row["updated_at"]
                newest = float(row["t"])
                points = np.arange(newest, before, -1.0)  # this commit's points, 1 s apart
                lags.extend(committed.timestamp() - (origin[row["run_id"]] + points))
                commits += 1
            time.sleep(0.05)
        wall = time.monotonic() - wall0
        cpu = (_cpu_s(process.pid) - cpu0) / wall
        stored = sum(store.last_seq(r) - first[r] for r in runs)
    finally:
        _stop(process)
        store.close()
    lag = np.asarray(lags)
    return {
        "cpu": cpu,
        "lag_p50": float(np.percentile(lag, 50)),
        "lag_p99": float(np.percentile(lag, 99)),
        "lag_max": float(lag.max()),
        "commits": float(commits),
        "points": float(len(lag)),
        "points_per_s": stored / wall,
    }


def _origin(store: Store, run_id: int) -> float:
    """Wall-clock time (epoch s) of the run's time 0: its ``start`` event."""
    start = next(e for e in store.events(run_id) if e.kind == "start")
    return start.at.timestamp() - (start.t or 0.0)


def run(channels: int, window_s: float) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "idle"
        base.mkdir()
        idle_cpu = idle(base, channels, window_s)
        busy = Path(tmp) / "loaded"
        busy.mkdir()
        got = loaded(busy, channels, window_s)
    return [
        (
            f"daemon, {channels} sim channels at 1 point/s, {window_s:g} s window: CPU % of a core",
            f"{got['cpu'] * 100:.1f}",
        ),
        ("  baseline: same daemon and channels, no runs: CPU %", f"{idle_cpu * 100:.1f}"),
        (
            "  CPU % per running channel (above the baseline)",
            f"{(got['cpu'] - idle_cpu) * 100 / channels:.2f}",
        ),
        (
            "  commit lag per point (measured → committed) p50 / p99 / max: s",
            f"{got['lag_p50']:.2f} / {got['lag_p99']:.2f} / {got['lag_max']:.2f}",
        ),
        (
            "  commits observed, points in them; points stored per wall second",
            f"{got['commits']:.0f}, {got['points']:.0f}; {got['points_per_s']:.1f}",
        ),
    ]
