"""The TUI's read model: the only module of the TUI that talks to the database.

Widgets never see the Store. Screens call these methods from a worker thread (at most
10 Hz, see app.POLL_HZ) and hand the plain records they return down to widgets. Status
comes from small tables (channel_latest, runs, steps, daemons); samples are paged by key
(``seq``), a fixed number of points however long the run, never the whole run.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from sqlalchemy import select

from cyclerctl.config import Config
from cyclerctl.plan import Plan
from cyclerctl.store import (
    TERMINAL_STATUSES,
    DaemonInfo,
    EventRecord,
    Result,
    RunInfo,
    Store,
    models,
)
from cyclerctl.store.owners import ORPHANED, owner_alive
from cyclerctl.store.records import StepRecord, utcnow
from cyclerctl.tui.format import channel_order

#: run status → what the overview calls the channel's state
_STATE_OF_STATUS = {
    "running": "running",
    "paused": "paused",
    "completed": "done",
    "safety_stop": "safety stop",
    "stopped": "idle",
    "failed": "failed",
    "interrupted": "interrupted",
}
#: the most points a plot asks for (a terminal is a few hundred cells wide)
PLOT_POINTS = 400
#: SQLite's default bound-parameter limit is far above this; PostgreSQL has none to speak of
_KEYS_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One channel as the overview shows it."""

    channel: str
    state: str  # idle, queued, running, paused, done, safety stop, failed, interrupted,
    # offline, orphaned
    run_id: int | None = None
    status: str | None = None  # the run's own status
    protocol: str | None = None
    cell: str | None = None
    operator: str | None = None
    step: int | None = None
    step_name: str | None = None
    cycle: int | None = None
    V: float | None = None
    I: float | None = None
    capacity_Ah: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    queued: int = 0
    #: why the run stopped when the operator must know at a glance (``V>4.4 V`` for a
    #: safety stop); None otherwise
    alarm: str | None = None

    @property
    def instrument(self) -> str:
        return self.channel.rpartition(":")[0] or self.channel

    @property
    def active(self) -> bool:
        return self.status in ("running", "paused")


@dataclass(frozen=True, slots=True)
class Trace:
    """Downsampled samples of one run: run time (s), V, I (A), step ordinal."""

    t: list[float] = field(default_factory=list)
    V: list[float] = field(default_factory=list)
    I: list[float] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    total_points: int = 0


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: RunInfo
    trace: Trace
    nyquist: tuple[list[float], list[float]]  # Z' and -Z'' (Ω)
    steps: list[StepRecord]  # the last steps executed, oldest first
    current_step: int | None  # ordinal of the step running now
    events: list[EventRecord]  # the latest events, oldest first
    results: dict[str, Result]
    plan: list[dict[str, Any]] = field(default_factory=list)  # the compiled plan's steps
    current_plan_index: int | None = None  # Step.index in ``plan`` of the step running now
    alarm: str | None = None  # the breached limit of a safety stop (``V>4.4 V``)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    run: RunInfo
    key_results: str


#: a safety limit's quantity → (what, comparison, unit shown, scale from SI, offset)
_LIMIT_FORMS: dict[str, tuple[str, str, str, float, float]] = {
    "voltage_max": ("V", ">", "V", 1.0, 0.0),
    "voltage_min": ("V", "<", "V", 1.0, 0.0),
    "current_max": ("|I|", ">", "mA", 1e3, 0.0),
    "temperature_max": ("T", ">", "°C", 1.0, -273.15),
}


def limit_text(quantity: str, value: Any) -> str:
    """A breached safety limit as the lab writes it: ``V>4.4 V``, ``|I|>5 mA``."""
    what, sign, unit, scale, offset = _LIMIT_FORMS.get(quantity, (quantity, "", "", 1.0, 0.0))
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"{what}{sign}?".strip() if sign else quantity
    return f"{what}{sign}{value * scale + offset:.4g} {unit}".rstrip()


def safety_reason(events: Sequence[EventRecord], end_reason: str | None) -> str:
    """What stopped a run on a safety limit, from its latest ``safety`` event (the limit
    and its value), else from the run's end reason (``safety:voltage_max``)."""
    for event in reversed(events):
        if event.kind == "safety":
            data = event.data or {}
            return limit_text(str(data.get("limit", "")), data.get("value"))
    quantity = (end_reason or "").removeprefix("safety:")
    return limit_text(quantity, None) if quantity else "limit"


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class LabData:
    """Reads for the screens, writes (submit, commands) for the operator's actions.

    ``clock`` is what "now" is (daemon heartbeats); tests freeze it.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Callable[[], datetime] = utcnow,
        host: str | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.host = host if host is not None else socket.gethostname()
        self._results_cache: dict[int, dict[str, Result]] = {}
        self._plan_cache: dict[int, list[dict[str, Any]]] = {}
        self._alarm_cache: dict[int, str] = {}  # run id → its safety reason (never changes)
        self._file = _sqlite_file_identity(store)

    def check_database(self) -> None:
        """Raise if the SQLite file this session opened was removed or replaced: the open
        connections would go on reading the deleted file and show it as live."""
        if self._file is None:
            return
        path, identity = self._file
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise OSError(f"database file {path} is gone ({exc.strerror})") from exc
        if (stat.st_dev, stat.st_ino) != identity:
            raise OSError(f"database file {path} was replaced by another file")

    # -- overview ---------------------------------------------------------------------------

    def daemons(self) -> list[DaemonInfo]:
        return self.store.daemons()

    def overview(self) -> list[ChannelRow]:
        """Every channel: the config's, every daemon's, and every one with a status row."""
        self.check_database()
        now = self.clock()
        stale_after = self.config.daemon.stale_after_s
        daemons = self.store.daemons()
        alive = {  # a run owner on this PC whose process is gone is not alive either
            d.name
            for d in daemons
            if owner_alive(d, stale_after_s=stale_after, now=now, host=self.host)
        }
        served: dict[str, bool] = {}  # channel → some alive daemon drives it
        for daemon in daemons:
            for channel in daemon.channels:
                served[channel] = served.get(channel, False) or daemon.name in alive
        rows = {row["channel"]: row for row in self.store.channel_status()}
        names = set(rows) | set(served) | set(self.config.channel_names)
        out = []
        for name in sorted(names, key=channel_order):
            row = self._channel_row(name, rows.get(name), served.get(name), alive)
            if row.status == "safety_stop" and row.run_id is not None:
                row = replace(row, alarm=self._safety_reason(row.run_id))
            out.append(row)
        return out

    def _safety_reason(self, run_id: int) -> str:
        if run_id not in self._alarm_cache:
            run = self.store.get_run(run_id)
            events = self.store.events(run_id)
            self._alarm_cache[run_id] = safety_reason(events, run.end_reason if run else None)
        return self._alarm_cache[run_id]

    @staticmethod
    def _channel_row(
        name: str, row: dict[str, Any] | None, served: bool | None, alive: set[str]
    ) -> ChannelRow:
        if row is None:
            state = "offline" if served is False else "idle"
            return ChannelRow(channel=name, state=state)
        status = row.get("status")
        state = _STATE_OF_STATUS.get(status or "", "idle")
        active = status in ("running", "paused")
        owner = row.get("daemon")
        if active and owner is not None and owner not in alive:
            state = ORPHANED  # its owner died: `cyclerctl resume` or a daemon takes it over
        elif served is False:
            state = "offline"
        queued = int(row.get("queued") or 0)
        if state == "idle" and queued:
            state = "queued"
        t = _finite(row.get("t"))
        estimate = _finite(row.get("estimated_duration_s"))
        eta = None
        if active and estimate is not None:
            eta = max(estimate - (t or 0.0), 0.0)
        step = row.get("step")
        cycle = row.get("cycle")
        return ChannelRow(
            channel=name,
            state=state,
            run_id=row.get("run_id"),
            status=status,
            protocol=row.get("protocol"),
            cell=row.get("cell"),
            operator=row.get("operator"),
            step=None if step is None else int(step),
            step_name=row.get("step_name"),
            cycle=None if cycle is None else int(cycle),
            V=_finite(row.get("V")),
            I=_finite(row.get("I")),
            capacity_Ah=_finite(row.get("capacity_Ah")),
            elapsed_s=t,
            eta_s=eta,
            queued=queued,
        )

    # -- one run ----------------------------------------------------------------------------

    def run(self, run_id: int) -> RunInfo | None:
        return self.store.get_run(run_id)

    def trace(self, run_id: int, max_points: int = PLOT_POINTS, last: int | None = None) -> Trace:
        """At most ``max_points`` samples spread evenly over the run (or over its ``last``
        points), always with the newest one: one key lookup per point, whatever the run's
        length (seqs are 1.. without gaps; a missing one is simply skipped)."""
        newest = self.store.last_seq(run_id)
        if newest <= 0:
            return Trace()
        first = 1 if last is None else max(1, newest - last + 1)
        span = newest - first + 1
        if span <= max_points:
            seqs: Sequence[int] = range(first, newest + 1)
        else:
            stride = span / (max_points - 1)
            picked = {first + int(i * stride) for i in range(max_points - 1)} | {newest}
            seqs = sorted(picked)
        table = models.samples
        columns = (table.c.seq, table.c.t, table.c.V, table.c.I, table.c.step)
        rows: list[Any] = []
        with self.store.engine.connect() as connection:
            for start in range(0, len(seqs), _KEYS_PER_QUERY):
                chunk = list(seqs[start : start + _KEYS_PER_QUERY])
                query = select(*columns).where(table.c.run_id == run_id)
                if len(seqs) == span:  # contiguous: one range scan
                    query = query.where(table.c.seq.between(chunk[0], chunk[-1]))
                else:
                    query = query.where(table.c.seq.in_(chunk))
                rows.extend(connection.execute(query.order_by(table.c.seq)).all())
        return Trace(
            t=[float(r[1]) for r in rows],
            V=[float(r[2]) for r in rows],
            I=[float(r[3]) for r in rows],
            step=[int(r[4]) for r in rows],
            total_points=newest,
        )

    def nyquist(self, run_id: int, limit: int = 2000) -> tuple[list[float], list[float]]:
        """The latest ``limit`` impedance points as (Z', -Z'')."""
        table = models.impedance
        query = (
            select(table.c.Zre, table.c.Zim)
            .where(table.c.run_id == run_id)
            .order_by(table.c.seq.desc())
            .limit(limit)
        )
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()[::-1]
        return [float(r.Zre) for r in rows], [-float(r.Zim) for r in rows]

    def steps(self, run_id: int, limit: int = 200) -> list[StepRecord]:
        table = models.steps
        query = (
            select(table).where(table.c.run_id == run_id).order_by(table.c.step.desc()).limit(limit)
        )
        records = []
        with self.store.engine.connect() as connection:
            for row in connection.execute(query):
                values = dict(row._mapping)
                del values["run_id"]
                values["loop_counters"] = tuple(values["loop_counters"] or ())
                records.append(StepRecord(**values))
        return records[::-1]

    def results(self, run_id: int, *, finished: bool = False) -> dict[str, Result]:
        """A finished run's results are read once, then kept."""
        if run_id in self._results_cache:
            return self._results_cache[run_id]
        results = self.store.results(run_id)
        if finished:
            self._results_cache[run_id] = results
        return results

    def plan(self, run_id: int) -> list[dict[str, Any]]:
        """The run's compiled plan (a list of step dicts, as stored at creation): it never
        changes, so it is read once per run."""
        if run_id not in self._plan_cache:
            snapshot = self.store.run_snapshot(run_id)
            plan = (snapshot or {}).get("plan")
            steps = plan if isinstance(plan, list) else []
            self._plan_cache[run_id] = [dict(s) for s in steps if isinstance(s, dict)]
        return self._plan_cache[run_id]

    def detail(self, run_id: int) -> RunDetail | None:
        self.check_database()
        run = self.store.get_run(run_id)
        if run is None:
            return None
        steps = self.steps(run_id)
        running = next((s for s in reversed(steps) if s.t_end is None), None)
        current = None if running is None else running.step
        current_index = None if running is None else running.plan_index
        if run.status in TERMINAL_STATUSES:
            current = current_index = None
        events = self.store.events(run_id)
        alarm = safety_reason(events, run.end_reason) if run.status == "safety_stop" else None
        return RunDetail(
            run=run,
            trace=self.trace(run_id),
            nyquist=self.nyquist(run_id),
            steps=steps,
            current_step=current,
            events=events[-100:],
            results=self.results(run_id, finished=run.status in TERMINAL_STATUSES),
            plan=self.plan(run_id),
            current_plan_index=current_index,
            alarm=alarm,
        )

    def latest_run_on(self, channel: str) -> int | None:
        table = models.runs
        query = (
            select(table.c.id)
            .where(table.c.channel == channel, table.c.status != "queued")
            .order_by(table.c.id.desc())
            .limit(1)
        )
        with self.store.engine.connect() as connection:
            value = connection.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    # -- history ----------------------------------------------------------------------------

    def history(self, limit: int = 200) -> list[HistoryRow]:
        """Finished runs, newest first, with their key results."""
        self.check_database()
        table = models.runs
        query = (
            select(table.c.id)
            .where(table.c.status.in_(sorted(TERMINAL_STATUSES)))
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        with self.store.engine.connect() as connection:
            ids = [int(i) for i in connection.execute(query).scalars()]
        rows = []
        for run_id in ids:
            run = self.store.get_run(run_id)
            if run is not None:
                rows.append(HistoryRow(run, key_results(self.results(run_id, finished=True))))
        return rows

    # -- writes -----------------------------------------------------------------------------

    def submit(self, plan: Plan, *, channel: str, operator: str, overrides: dict[str, str]) -> int:
        run = self.store.submit_run(
            plan, operator=operator, channel=channel, overrides=overrides, host=self.host
        )
        return run.id

    def command(self, run_id: int, kind: str, *, operator: str) -> int:
        return self.store.issue_command(run_id, kind, operator=operator, host=self.host)


def _sqlite_file_identity(store: Store) -> tuple[str, tuple[int, int]] | None:
    """(path, (device, inode)) of a SQLite database file, None for other databases."""
    url = store.engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    path = database
    if database.startswith("file:"):  # a URI (read-only sessions): file:/path?mode=ro
        path = unquote(database.removeprefix("file:").split("?", 1)[0])
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return path, (stat.st_dev, stat.st_ino)


def key_results(results: dict[str, Result], limit: int = 3) -> str:
    """``ce_avg=0.98, cycles_completed=2`` — the scalar results, first few by name."""
    parts = []
    for name, result in sorted(results.items()):
        if result.value is None:
            continue
        unit = f" {result.unit}" if result.unit not in (None, "", "1") else ""
        parts.append(f"{name}={result.value:.4g}{unit}")
        if len(parts) == limit:
            break
    return ", ".join(parts)
