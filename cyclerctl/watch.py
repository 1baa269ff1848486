"""`cyclerctl watch RUN`: follow one run live in a plain terminal, from the database only.

Each look reads three small things — the run's row (status, estimated duration), its
channel's ``channel_latest`` row (step, cycle, run time, V, I) and its steps — never the
samples, so watching costs the daemon nothing. On a terminal the status line is redrawn
in place; otherwise (a log, a pipe) a line is printed when the step or the cycle changes.
A line is printed for each finished cycle (charge, discharge, CE), and the watch ends when
the run does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from cyclerctl.progress import format_cycle
from cyclerctl.store import TERMINAL_STATUSES, RunInfo, StepRecord, Store

BAR_WIDTH = 24


@dataclass
class Look:
    """What one look at the database saw."""

    run: RunInfo
    latest: dict[str, Any] | None  # the channel's row, when it is this run's
    steps: list[StepRecord]

    @property
    def ended(self) -> bool:
        return self.run.status in TERMINAL_STATUSES


def look(store: Store, run_id: int) -> Look:
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(run_id)
    latest = next(
        (
            r
            for r in store.channel_status()
            if r["channel"] == run.channel and r["run_id"] == run_id
        ),
        None,
    )
    return Look(run, latest, store.steps(run_id))


class RunWatch:
    """Prints what changed since the last :meth:`show`."""

    def __init__(self, out: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic):
        self.out = out
        self.live = live  # a terminal: redraw the status line in place
        self.clock = clock
        self._cycles_shown = 0
        self._last_key: tuple[Any, ...] | None = None
        self._first: tuple[float, float] | None = None  # (wall, run time) of the first look
        self._line_len = 0

    def show(self, seen: Look) -> None:
        self._cycle_lines(seen)
        line = self.status_line(seen)
        if self.live:
            pad = max(0, self._line_len - len(line))
            self.out.write("\r" + line + " " * pad)
            self._line_len = len(line)
        else:
            key = self._key(seen)
            if key != self._last_key:
                self.out.write(line + "\n")
            self._last_key = key
        self.out.flush()

    def finish(self, seen: Look) -> None:
        self._cycle_lines(seen, final=True)
        if self.live:
            self.out.write("\n")
        reason = f" ({seen.run.end_reason})" if seen.run.end_reason else ""
        self.out.write(f"run {seen.run.id}: {seen.run.status}{reason}\n")
        self.out.flush()

    def status_line(self, seen: Look) -> str:
        run, row = seen.run, seen.latest or {}
        t = _number(row.get("t"))
        total = run.estimated_duration_s
        if t is not None and total:
            fraction = min(max(t / total, 0.0), 1.0)
            filled = round(fraction * BAR_WIDTH)
            bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}%"
        else:
            bar = f"[{'?' * BAR_WIDTH}]    "
        eta = self._eta(t, total)
        if row.get("V") is None:  # created, no point stored yet
            return f"run {run.id} {run.status:<8} waiting for the first point on {run.channel}"
        step = "-"
        if row.get("step") is not None:
            step = f"step {row['step']} {row.get('step_name') or ''}".rstrip()
        cycle = f"cycle {row['cycle']}" if row.get("cycle") else "cycle -"
        V, I = _number(row.get("V")), _number(row.get("I"))
        reading = (
            f"V {V:.4f} V  I {I * 1e3:+.4g} mA" if V is not None and I is not None else "V - I -"
        )
        return f"run {run.id} {run.status:<8} {bar} ETA {eta:>7}  {step}  {cycle}  {reading}"

    def _eta(self, t: float | None, total: float | None) -> str:
        """Wall time left, from how fast run time went by since the first look."""
        if t is None or not total:
            return "-"
        now = self.clock()
        if self._first is None:
            self._first = (now, t)
        wall0, t0 = self._first
        rate = (t - t0) / (now - wall0) if now > wall0 and t > t0 else None
        left = max(total - t, 0.0)
        return _duration(left / rate) if rate else "-"  # known from the second look on

    def _key(self, seen: Look) -> tuple[Any, ...]:
        row = seen.latest or {}
        return (seen.run.status, row.get("step"), row.get("cycle"))

    def _cycle_lines(self, seen: Look, *, final: bool = False) -> None:
        """A line per cycle finished since the last look (the last one once the run ends)."""
        by_cycle: dict[int, list[StepRecord]] = {}
        for step in seen.steps:
            if step.cycle > 0:
                by_cycle.setdefault(step.cycle, []).append(step)
        now_in = max(by_cycle, default=0)
        done = [c for c in sorted(by_cycle) if c > self._cycles_shown and (c < now_in or final)]
        for cycle in done:
            steps = by_cycle[cycle]
            line = format_cycle(
                cycle, sum(s.charge_Ah for s in steps), sum(s.discharge_Ah for s in steps)
            )
            if self.live:
                self.out.write("\r" + " " * self._line_len + "\r")
            self.out.write(line.strip() + "\n")
            self._cycles_shown = cycle


def follow(
    store: Store,
    run_id: int,
    out: TextIO,
    *,
    live: bool,
    interval_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> RunInfo:
    """Watch run ``run_id`` until it ends; its final row."""
    watch = RunWatch(out, live=live)
    while True:
        seen = look(store, run_id)
        if seen.ended:
            watch.finish(seen)
            return seen.run
        watch.show(seen)
        sleep(interval_s)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
