"""The Store: one database of runs, opened by URL, migrated on open."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, func, select, update

import cyclerctl
from cyclerctl.plan import Plan
from cyclerctl.store import database, imports, models, queries, queue
from cyclerctl.store.batch import event_values
from cyclerctl.store.database import write_transaction
from cyclerctl.store.records import (
    IMPEDANCE_ROW_DTYPE,
    RUN_STATUSES,
    SAMPLE_ROW_DTYPE,
    TERMINAL_STATUSES,
    Checkpoint,
    CommandRecord,
    DaemonInfo,
    EventRecord,
    Result,
    RunInfo,
    StepRecord,
    utcnow,
)
from cyclerctl.store.serialize import jsonable, plan_table
from cyclerctl.store.writer import DEFAULT_BACKLOG_ROWS, RETRY_MAX_S, RunWriter, SharedWriter


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}; got {status!r}")


class Store:
    """Runs, their data and results. Thread-safe; every running channel's writer shares
    one thread and one connection (:class:`SharedWriter`, started on the first open_writer).

    ``backlog_rows``: how many rows the writer may hold while the database is unwritable
    before runs are stopped (StoreBacklogFull); ``retry_max_s``: the longest wait between
    two tries to write to an unwritable database (the first is 0.1 s, doubling).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        backlog_rows: int = DEFAULT_BACKLOG_ROWS,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self.engine = engine
        self.backlog_rows = backlog_rows
        self.retry_max_s = retry_max_s
        self._shared: SharedWriter | None = None
        self._shared_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        backlog_rows: int = DEFAULT_BACKLOG_ROWS,
        retry_max_s: float = RETRY_MAX_S,
    ) -> Store:
        """Open (creating if new) the database at ``url`` (default_url() if None), migrated."""
        engine = database.make_engine(url or database.default_url())
        store = cls(engine, backlog_rows=backlog_rows, retry_max_s=retry_max_s)
        store.upgrade()
        return store

    @property
    def url(self) -> str:
        """The database URL as it may be shown: the password (if any) as ``***``."""
        return self.engine.url.render_as_string(hide_password=True)

    def upgrade(self) -> None:
        """Apply alembic migrations up to head (does nothing when already there)."""
        database.upgrade(self.engine)

    def close(self, timeout: float | None = None) -> None:
        """Commit what every writer queued and stop the writer thread, then the engine.

        While the database is unwritable that waits for it to recover: ``timeout`` bounds
        the wait (TimeoutError; what is still held is then lost with the process).
        """
        try:
            with self._shared_lock:
                shared, self._shared = self._shared, None
            if shared is not None:
                shared.close(timeout)
        finally:
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------

    def _run_values(
        self,
        plan: Plan,
        *,
        operator: str,
        instrument: Mapping[str, str],
        channel: str,
        status: str,
        overrides: Mapping[str, str] | None,
        daemon: str | None,
    ) -> dict[str, Any]:
        now = utcnow()
        return {
            "guid": str(uuid.uuid4()),
            "protocol_name": plan.protocol_name,
            "protocol_source": plan.protocol_source,
            "protocol_text": plan.protocol_text,
            "protocol_sha256": plan.protocol_sha256,
            "cell_name": plan.cell.name,
            "cell_source": plan.cell.source,
            "cell_text": plan.cell_text,
            "cell_json": jsonable(plan.cell),
            "parameters": jsonable(plan.parameters),
            "overrides": {str(k): str(v) for k, v in (overrides or {}).items()},
            "plan_json": plan_table(plan),
            "analysis": jsonable(plan.analysis),
            "instrument": dict(instrument),
            "channel": channel,
            "operator": operator,
            "daemon": daemon,
            "status": status,
            "end_reason": None,
            "is_completed": status in TERMINAL_STATUSES,
            "created_at": now,
            "queued_at": now if status == "queued" else None,
            "started_at": now if status == "running" else None,
            "ended_at": now if status in TERMINAL_STATUSES else None,
            "estimated_duration_s": plan.estimated_duration_s,
        }

    @staticmethod
    def _insert_run(connection: Any, values: Mapping[str, Any]) -> int:
        result = connection.execute(models.runs.insert().values(**values))
        (run_id,) = result.inserted_primary_key or (None,)
        assert isinstance(run_id, int)
        return run_id

    def create_run(
        self,
        plan: Plan,
        *,
        operator: str,
        instrument: Mapping[str, str],
        channel: str,
        status: str = "running",
        overrides: Mapping[str, str] | None = None,
        daemon: str | None = None,
    ) -> RunInfo:
        """Record a new run with everything needed to reproduce it: protocol text and hash,
        cell, resolved parameters and the ``--set`` overrides as given, step table,
        instrument identity, operator, and the daemon running it (None: the foreground CLI).
        """
        _check_status(status)
        values = self._run_values(
            plan,
            operator=operator,
            instrument=instrument,
            channel=channel,
            status=status,
            overrides=overrides,
            daemon=daemon,
        )
        with self.engine.begin() as connection:
            run_id = self._insert_run(connection, values)
            if status == "running":
                queue.hold_channel(connection, channel, run_id, status)
            run = queries.get_run(connection, run_id)
        assert run is not None
        return run

    def set_status(self, run_id: int, status: str, *, end_reason: str | None = None) -> None:
        """Set the run's status and ``end_reason`` (None clears it).

        Terminal statuses (completed, safety_stop, stopped, failed, interrupted) set
        ``ended_at`` and ``is_completed``; others clear them (a resumed run is running
        again). ``started_at`` is set the first time the run is running.
        """
        _check_status(status)
        runs = models.runs
        now = utcnow()
        terminal = status in TERMINAL_STATUSES
        values: dict[str, Any] = {
            "status": status,
            "end_reason": end_reason,
            "is_completed": terminal,
            "ended_at": now if terminal else None,
        }
        if status == "running":
            values["started_at"] = func.coalesce(runs.c.started_at, now)
        with self.engine.begin() as connection:
            # the UPDATE comes first: it takes SQLite's write lock before anything is read
            changed = connection.execute(update(runs).where(runs.c.id == run_id).values(**values))
            if changed.rowcount == 0:
                raise KeyError(f"no run {run_id}")
            channel = connection.execute(
                select(runs.c.channel).where(runs.c.id == run_id)
            ).scalar_one()
            latest = models.channel_latest
            claimed = connection.execute(
                update(latest)
                .where(latest.c.channel == channel, latest.c.run_id == run_id)
                .values(status=status, updated_at=now)
            )
            if claimed.rowcount == 0 and status == "running":
                queue.hold_channel(connection, channel, run_id, status)

    def set_instrument(self, run_id: int, instrument: Mapping[str, str]) -> None:
        """Record the identity of the instrument a run got (a submitted run has none yet)."""
        runs = models.runs
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(runs).where(runs.c.id == run_id).values(instrument=dict(instrument))
            )
            if changed.rowcount == 0:
                raise KeyError(f"no run {run_id}")

    def get_run(self, run_id: int) -> RunInfo | None:
        with self.engine.connect() as connection:
            return queries.get_run(connection, run_id)

    def list_runs(self, limit: int | None = None, *, source: str | None = None) -> list[RunInfo]:
        """Newest first. ``source="import"``: only runs made by ``cyclerctl import``."""
        if source not in (None, "import"):
            raise ValueError(f"source is 'import' or None; got {source!r}")
        with self.engine.connect() as connection:
            return queries.list_runs(connection, limit, imported_only=source == "import")

    # -- imported files -------------------------------------------------------------------

    def import_run(
        self,
        plan: Plan,
        *,
        operator: str,
        instrument: Mapping[str, str],
        channel: str,
        source: Callable[[], Mapping[str, Any]],
        blocks: Iterable[tuple[NDArray[np.void], NDArray[np.void]]],
        steps: Callable[[], Sequence[StepRecord]],
        events: Callable[[], Sequence[EventRecord]] = tuple,
        started_at: datetime | None = None,
    ) -> RunInfo:
        """Record an imported file as one completed run, atomically: the run, its samples
        and impedance points (``blocks``: pairs of SAMPLE_ROW_DTYPE and IMPEDANCE_ROW_DTYPE
        rows, streamed), steps, events and its ``imported_files`` row (``source()``, asked
        for after the last block: that table's columns but run_id and imported_at) commit
        together or not at all — an exception from ``blocks`` rolls everything back."""
        values = self._run_values(
            plan,
            operator=operator,
            instrument=instrument,
            channel=channel,
            status="completed",
            overrides=None,
            daemon=None,
        )
        values["end_reason"] = "imported"
        values["started_at"] = started_at
        with write_transaction(self.engine) as connection:
            run_id = self._insert_run(connection, values)

            def row() -> dict[str, Any]:
                return {**source(), "imported_at": utcnow()}

            imports.write_import(connection, run_id, blocks, steps, row, events)
            run = queries.get_run(connection, run_id)
        assert run is not None
        return run

    def runs_from_file(self, sha256: str) -> list[int]:
        """Runs imported from a file with these bytes (its sha256), oldest first."""
        with self.engine.connect() as connection:
            return imports.find_by_sha256(connection, sha256)

    def imported_file(self, run_id: int) -> dict[str, Any] | None:
        """Where an imported run came from (its imported_files row), None for other runs."""
        with self.engine.connect() as connection:
            return imports.imported_file(connection, run_id)

    def run_snapshot(self, run_id: int) -> dict[str, Any] | None:
        """What RunInfo leaves out: protocol_text, cell_text, cell (dict), plan (step table)."""
        runs = models.runs
        query = select(
            runs.c.protocol_text, runs.c.cell_text, runs.c.cell_json, runs.c.plan_json
        ).where(runs.c.id == run_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        return {
            "protocol_text": row.protocol_text,
            "cell_text": row.cell_text,
            "cell": row.cell_json,
            "plan": row.plan_json,
        }

    # -- the daemon's queue, commands and heartbeats --------------------------------------

    def submit_run(
        self,
        plan: Plan,
        *,
        operator: str,
        channel: str,
        overrides: Mapping[str, str] | None = None,
        host: str = "",
    ) -> RunInfo:
        """Queue a run for whichever daemon drives ``channel``.

        One transaction: the run (status "queued", ``queued_at`` now, no instrument yet)
        and a ``submit`` command, the audit of who asked, from where; the daemon that
        claims the run acknowledges it.
        """
        values = self._run_values(
            plan,
            operator=operator,
            instrument={},
            channel=channel,
            status="queued",
            overrides=overrides,
            daemon=None,
        )
        with self.engine.begin() as connection:
            run_id = self._insert_run(connection, values)
            queue.add_command(connection, run_id, "submit", operator=operator, host=host)
            run = queries.get_run(connection, run_id)
        assert run is not None
        return run

    def claim_next(self, channels: Sequence[str], daemon: str) -> RunInfo | None:
        """Atomically start the oldest queued run (by ``queued_at``, then id) on one of
        ``channels`` whose channel has no running or paused run: status "running",
        ``daemon`` its owner, ``started_at`` now, the channel's status row pointed at it,
        its ``submit`` command acknowledged. None if there is nothing to start.

        Safe between threads, processes and hosts: no run is claimed twice and no channel
        gets two active runs (SQLite: BEGIN IMMEDIATE; PostgreSQL: a per-channel advisory
        lock and SELECT … FOR UPDATE SKIP LOCKED).
        """
        with write_transaction(self.engine) as connection:
            run_id = queue.claim(connection, channels, daemon)
            run = None if run_id is None else queries.get_run(connection, run_id)
        return run

    def issue_command(self, run_id: int, kind: str, *, operator: str, host: str = "") -> int:
        """Ask the daemon that owns the run to ``pause``, ``resume`` or ``stop`` it; the
        command's id. ValueError for another kind or a run that has ended; KeyError for an
        unknown run. ``stop`` on a queued run takes it out of the queue at once (status
        "stopped", end_reason "operator"; the command is answered "ok" with no daemon);
        pause/resume on a queued run is a ValueError.
        """
        with write_transaction(self.engine) as connection:
            return queue.issue(connection, run_id, kind, operator=operator, host=host)

    def pending_commands(self, daemon: str) -> list[CommandRecord]:
        """Unacknowledged pause/resume/stop commands for runs ``daemon`` owns, oldest first."""
        with self.engine.connect() as connection:
            return queue.pending(connection, daemon)

    def acknowledge(self, command_id: int, *, daemon: str, result: str = "ok") -> None:
        """Answer a command: ``result`` is "ok" or why not. The first answer stands (a later
        one is ignored); KeyError for an unknown command."""
        with write_transaction(self.engine) as connection:
            queue.acknowledge(connection, command_id, daemon=daemon, result=result)

    def commands(self, run_id: int | None = None) -> list[CommandRecord]:
        """The audit trail: every command (of one run, or of all), in the order issued."""
        with self.engine.connect() as connection:
            return queue.command_log(connection, run_id)

    def heartbeat(
        self,
        daemon: str,
        *,
        host: str,
        pid: int,
        instruments: Sequence[str] = (),
        channels: Sequence[str] = (),
    ) -> None:
        """Say ``daemon`` is alive now (insert or update its row; ``started_at`` is kept
        while host and pid stay the same)."""
        with write_transaction(self.engine) as connection:
            queue.heartbeat(
                connection,
                daemon,
                host=host,
                pid=pid,
                version=cyclerctl.__version__,
                instruments=instruments,
                channels=channels,
            )

    def daemons(self) -> list[DaemonInfo]:
        """Every daemon that ever sent a heartbeat, by name."""
        with self.engine.connect() as connection:
            return queue.daemon_list(connection)

    def orphaned_runs(
        self, daemon: str, *, stale_after_s: float, channels: Sequence[str] | None = None
    ) -> list[RunInfo]:
        """Running or paused runs that ``daemon`` should consider taking over: its own (it
        restarted; so call this before it runs anything) and those of daemons whose last
        heartbeat is older than ``stale_after_s`` or missing. Runs with no daemon (the
        foreground CLI's) are never listed. ``channels``: only runs on these."""
        with self.engine.connect() as connection:
            return queue.orphans(connection, daemon, stale_after_s=stale_after_s, channels=channels)

    def adopt(self, run_id: int, daemon: str, *, stale_after_s: float) -> bool:
        """Atomically make ``daemon`` the run's owner if the run is still orphaned (see
        orphaned_runs); False if it is not (another daemon adopted it first, its owner came
        back, it ended). A change of owner is recorded as an ``adopted`` event. Send a
        heartbeat first: a daemon with none can itself be adopted from."""
        with write_transaction(self.engine) as connection:
            return queue.adopt(connection, run_id, daemon, stale_after_s=stale_after_s)

    def channel_status(self) -> list[dict[str, Any]]:
        """What ``cyclerctl status`` shows, one dict per channel_latest row, by channel:
        channel, run_id, status, protocol, cell, operator, daemon, step (ordinal),
        step_name, step_kind, cycle, t (run time, s), V, I, Q (C in the step), T (K),
        capacity_Ah (|Q| in Ah), estimated_duration_s, started_at, updated_at, queued
        (runs waiting for the channel). Reads only small tables, never samples."""
        with self.engine.connect() as connection:
            return queue.channel_status(connection)

    # -- events and results ----------------------------------------------------------------

    def add_event(self, run_id: int, record: EventRecord) -> None:
        """Store one event now, in its own transaction (outside any writer)."""
        with self.engine.begin() as connection:
            connection.execute(models.events.insert().values(**event_values(run_id, record)))

    def save_results(
        self, run_id: int, results: Mapping[str, Result], *, analysis_version: str
    ) -> None:
        """Replace every result of the run with ``results``, in one transaction."""
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "name": name,
                "value": result.value,
                "data": jsonable(result.data),
                "unit": result.unit,
                "analysis_version": analysis_version,
                "source": jsonable(result.source),
                "computed_at": now,
            }
            for name, result in results.items()
        ]
        table = models.results
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.run_id == run_id))
            if rows:
                connection.execute(table.insert(), rows)

    def results(self, run_id: int) -> dict[str, Result]:
        with self.engine.connect() as connection:
            return queries.results(connection, run_id)

    def steps(self, run_id: int) -> list[StepRecord]:
        with self.engine.connect() as connection:
            return queries.steps(connection, run_id)

    def events(self, run_id: int) -> list[EventRecord]:
        with self.engine.connect() as connection:
            return queries.events(connection, run_id)

    # -- data -----------------------------------------------------------------------------

    def samples(self, run_id: int) -> NDArray[np.void]:
        """Every sample of the run, ordered by seq (SAMPLE_ROW_DTYPE; unknown T is NaN)."""
        return queries.fetch_run_rows(self.engine, "samples", run_id, SAMPLE_ROW_DTYPE)

    def impedance(self, run_id: int) -> NDArray[np.void]:
        """Every impedance point of the run, ordered by seq (IMPEDANCE_ROW_DTYPE)."""
        return queries.fetch_run_rows(self.engine, "impedance", run_id, IMPEDANCE_ROW_DTYPE)

    def last_seq(self, run_id: int) -> int:
        """The highest stored sample seq of the run (0 if none): one key lookup."""
        samples = models.samples
        query = select(func.max(samples.c.seq)).where(samples.c.run_id == run_id)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one_or_none() or 0)

    def checkpoint(self, run_id: int) -> Checkpoint | None:
        with self.engine.connect() as connection:
            return queries.checkpoint(connection, run_id)

    def channel_latest(self) -> list[dict[str, Any]]:
        """One dict per channel (columns of channel_latest), ordered by channel."""
        with self.engine.connect() as connection:
            return queries.channel_latest(connection)

    def count(self, table_name: str) -> int:
        """Rows in one of the store's tables."""
        try:
            table = models.TABLES[table_name]
        except KeyError:
            raise ValueError(f"no table {table_name!r}; tables: {sorted(models.TABLES)}") from None
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def open_writer(
        self,
        run_id: int,
        *,
        channel: str,
        flush_interval_s: float = 1.0,
        max_rows: int = 20_000,
    ) -> RunWriter:
        """A handle on the store's writer for the run: its writes are batched with every
        other run's on one thread and connection (started here the first time)."""
        return self.shared_writer().open(
            run_id, channel=channel, flush_interval_s=flush_interval_s, max_rows=max_rows
        )

    def shared_writer(self) -> SharedWriter:
        """The writer thread every run's handle feeds, started on first use."""
        with self._shared_lock:
            if self._shared is None or self._shared.stopped:
                url = self.engine.url
                if database.is_sqlite(url) and url.database in (None, "", ":memory:"):
                    raise ValueError("an in-memory SQLite database cannot be shared with a writer")
                self._shared = SharedWriter(
                    database.make_engine(url, dedicated=True),
                    backlog_rows=self.backlog_rows,
                    retry_max_s=self.retry_max_s,
                )
            return self._shared
