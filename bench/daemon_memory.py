"""Daemon peak memory (and CPU, commit lag) with many simulated channels: 256 by default.

Reuses bench.daemon's machinery unchanged: ``daemon.idle`` (channels configured, no runs:
the baseline) and ``daemon.loaded`` (one run per channel at 1 point/s in real time). While
each runs, a watcher thread finds the daemon subprocess (a child of this process running
``cyclerctl daemon``) and reads its ``VmHWM`` (peak resident set) from /proc every 0.2 s;
VmHWM only grows, so the last reading before the daemon exits is its peak over the window.

Targets (2-core machine, 256 channels): peak ≤ 250 MB, CPU ≤ 15 % of one core, commit lag
p99 ≤ 2 s. ``python -m bench.daemon_memory [--quick] [--channels N]`` prints the table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench import daemon

FULL_CHANNELS = 256
QUICK_CHANNELS = 16
PEAK_TARGET_MB = 250.0
CPU_TARGET = 0.15
LAG_P99_TARGET_S = 2.0

T = TypeVar("T")


def _daemon_child() -> int | None:
    """Pid of this process's child running ``cyclerctl daemon`` (None: not started yet)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if b"cyclerctl" in argv and b"daemon" in argv:
            return int(entry.name)
    return None


def _status(pid: int) -> tuple[float, int] | None:
    """VmHWM (MB) and thread count of a live process, from /proc (None: it has exited)."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        return int(fields["VmHWM"].split()[0]) / 1024.0, int(fields["Threads"])
    except (OSError, KeyError, ValueError):
        return None


def with_peak(measure: Callable[[], T]) -> tuple[T, float]:
    """``measure()``'s result and the peak resident MB of the daemon it started."""
    result, peak, _threads = with_peaks(measure)
    return result, peak


def with_peaks(measure: Callable[[], T]) -> tuple[T, float, int]:
    """``measure()``'s result, the peak resident MB and the most threads of its daemon."""
    peak = 0.0
    threads = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak, threads
        pid: int | None = None
        while not done.is_set():
            pid = pid or _daemon_child()
            if pid is not None:
                status = _status(pid)
                if status is None:  # exited: a later daemon may be another child
                    pid = None
                else:
                    peak = max(peak, status[0])
                    threads = max(threads, status[1])
            done.wait(0.2)

    watcher = threading.Thread(target=watch, name="bench-vmhwm", daemon=True)
    watcher.start()
    try:
        result = measure()
    finally:
        done.set()
        watcher.join()
    return result, peak, threads


def run(channels: int, window_s: float) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "idle"
        base.mkdir()
        idle_cpu, idle_mb, idle_threads = with_peaks(lambda: daemon.idle(base, channels, window_s))
        busy = Path(tmp) / "loaded"
        busy.mkdir()
        got, peak_mb, threads = with_peaks(lambda: daemon.loaded(busy, channels, window_s))
    mem_ok = "ok" if peak_mb <= PEAK_TARGET_MB else "MISSED"
    cpu_ok = "ok" if got["cpu"] <= CPU_TARGET else "MISSED"
    lag_ok = "ok" if got["lag_p99"] <= LAG_P99_TARGET_S else "MISSED"
    return [
        (
            f"daemon memory, {channels} sim channels at 1 point/s, {window_s:g} s window: "
            f"peak RSS MB (≤ {PEAK_TARGET_MB:g})",
            f"{peak_mb:.0f} {mem_ok}",
        ),
        ("  baseline: same daemon and channels, no runs: peak RSS MB", f"{idle_mb:.0f}"),
        (
            "  ratio loaded / idle peak; MB per running channel above idle",
            f"{peak_mb / idle_mb:.2f}; {(peak_mb - idle_mb) / channels:.2f}",
        ),
        (
            f"  CPU % of a core (≤ {CPU_TARGET * 100:g}); baseline no runs; ratio",
            f"{got['cpu'] * 100:.1f} {cpu_ok}; {idle_cpu * 100:.1f}; "
            f"{got['cpu'] / max(idle_cpu, 1e-9):.1f}",
        ),
        (
            f"  commit lag p50 / p99 / max: s (p99 ≤ {LAG_P99_TARGET_S:g})",
            f"{got['lag_p50']:.2f} / {got['lag_p99']:.2f} {lag_ok} / {got['lag_max']:.2f}",
        ),
        (
            "  points stored per wall second (expected = channels)",
            f"{got['points_per_s']:.1f}",
        ),
        (
            "  daemon threads, most seen: loaded; baseline no runs (one store writer for all)",
            f"{threads}; {idle_threads}",
        ),
    ]


def table(quick: bool) -> list[tuple[str, str]]:
    """The rows ``python -m bench`` prints: quick or full sizes."""
    return run(QUICK_CHANNELS, 3.0) if quick else run(FULL_CHANNELS, 30.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.daemon_memory")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CHANNELS} channels, 3 s")
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--window", type=float, default=None, help="seconds")
    args = parser.parse_args(argv)
    from bench.machine import describe, print_rows

    channels = args.channels or (QUICK_CHANNELS if args.quick else FULL_CHANNELS)
    window = args.window or (3.0 if args.quick else 30.0)
    print(f"machine: {describe()}")
    rows = run(channels, window)
    print_rows(rows)


if __name__ == "__main__":
    main()
