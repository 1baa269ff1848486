"""The database unwritable (#9): disk full, the file locked, PostgreSQL restarted.

Real parts only: SQLite files whose writer connection gets ``PRAGMA max_page_count`` (a
full disk, without needing a tiny filesystem), a second ``sqlite3`` connection holding
``BEGIN EXCLUSIVE`` (someone else locking the file), and a PostgreSQL server of this
module's own that is stopped and started again with ``pg_ctl``. The writer must hold the
points, write them once when the database recovers (nothing dropped, nothing twice), and
record each outage; when the bound on points held is reached, runs stop at a safe point
with a recorded reason that reaches the database once it can be written.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import RunReport, drive_run
from cyclerctl.plan import Plan, Step
from cyclerctl.protocol import load_plan
from cyclerctl.store import (
    Checkpoint,
    EventRecord,
    RunInfo,
    Store,
    StoreBacklogFull,
    WriterError,
)
from cyclerctl.store.writer import BACKLOG_FULL_REASON, OUTAGE_EVENT, SharedWriter
from tests.daemon.conftest import DaemonProcess, Lab, sim, wait_for
from tests.store.conftest import sample_block
from tests.support.postgres import PostgresServer

DEADLINE_S = 60.0  # generous: nothing here asserts speed
RETRY_MAX_S = 0.2  # the writer's longest wait between tries, kept short for the tests

HOLD = """\
name = "hold"
description = "a long rest, every point stored"
[record]
every = "1 s"
[[steps]]
type = "rest"
until = { time = "10 h" }
"""


def _checkpoint(last_seq: int) -> Checkpoint:
    return Checkpoint(
        step=1,
        plan_index=0,
        loop_counters=(),
        cycle=1,
        step_elapsed_s=last_seq * 0.1,
        step_charge_C=0.0,
        step_t_start=0.0,
        last_seq=last_seq,
    )


def _wait_for(what: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _outages(store: Store, run_id: int) -> list[EventRecord]:
    return [
        e
        for e in store.events(run_id)
        if e.kind == OUTAGE_EVENT and e.message.startswith("database unwritable")
    ]


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    path = tmp_path / "hold.toml"
    path.write_text(HOLD)
    return load_plan(str(path), "ncm622-coin")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


def _open(url: str, **options: Any) -> Store:
    return Store.open(url, retry_max_s=RETRY_MAX_S, **options)


def _new_run(store: Store, plan: Plan, channel: str = "ch1") -> RunInfo:
    return store.create_run(plan, operator="test", instrument={}, channel=channel)


def _short_busy_wait(shared: SharedWriter) -> None:
    """The writer's connections give up on a locked file after 50 ms, not 10 s, so a
    test's outage takes a second or two (production keeps the long busy timeout)."""

    @event.listens_for(shared.engine, "connect")
    def _busy(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 50")


class _Lock:
    """Another connection holding the file's write lock (BEGIN EXCLUSIVE) until released."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.close()


# -- SQLite: disk full --------------------------------------------------------------------


def test_disk_full_holds_points_and_writes_them_when_space_returns(
    db_path: Path, plan: Plan
) -> None:
    store = _open(f"sqlite:///{db_path}")
    try:
        run = _new_run(store, plan)
        shared = store.shared_writer()
        full = [True]

        @event.listens_for(shared.engine, "connect")
        def _limit(dbapi_connection: Any, _record: Any) -> None:
            if full[0]:  # no page beyond what the file has now: the disk is full
                dbapi_connection.execute("PRAGMA max_page_count = 1")

        writer = store.open_writer(run.id, channel="ch1", flush_interval_s=0.05)
        writer.append_samples(sample_block(1, 3000, seed=1))
        writer.checkpoint(_checkpoint(3000))
        with pytest.raises(TimeoutError):
            writer.flush(timeout=1.0)
        assert shared.outage_since is not None
        assert "full" in str(shared.outage_cause).lower()
        assert store.count("samples") == 0 and store.checkpoint(run.id) is None  # reads work
        writer.append_samples(sample_block(3001, 2000, seed=2))  # accepted meanwhile
        writer.checkpoint(_checkpoint(5000))
        full[0] = False  # space again: the next try (a fresh connection) goes through
        writer.flush(timeout=DEADLINE_S)
        assert shared.outage_since is None
        writer.close()
        stored = store.samples(run.id)
        np.testing.assert_array_equal(stored["seq"], np.arange(1, 5001))  # once each
        np.testing.assert_array_equal(stored["V"][:3000], sample_block(1, 3000, seed=1)["V"])
        checkpoint = store.checkpoint(run.id)
        assert checkpoint is not None and checkpoint.last_seq == 5000
        (outage,) = _outages(store, run.id)
        assert outage.severity == "warning"
        assert outage.message.endswith("s, 5000 points held")
        assert outage.data["points_held"] == 5000 and outage.data["unwritable_s"] > 0.5
    finally:
        store.close()


# -- SQLite: the file locked by someone else ------------------------------------------------


def test_locked_file_holds_every_run_and_records_the_outage_in_each(
    db_path: Path, plan: Plan
) -> None:
    store = _open(f"sqlite:///{db_path}")
    try:
        runs = [_new_run(store, plan, f"ch{i}") for i in range(3)]
        _short_busy_wait(store.shared_writer())
        writers = [store.open_writer(r.id, channel=r.channel, flush_interval_s=0.05) for r in runs]
        writers[0].append_samples(sample_block(1, 10))  # a first commit: the database works
        writers[0].flush(timeout=DEADLINE_S)
        lock = _Lock(db_path)
        try:
            for i, writer in enumerate(writers):
                writer.append_samples(sample_block(11, 100 * (i + 1), seed=i))
                writer.event(EventRecord("note", f"while locked {i}"))
            with pytest.raises(TimeoutError):
                writers[2].flush(timeout=1.5)
            assert [store.last_seq(r.id) for r in runs] == [10, 0, 0]  # readers are not held
        finally:
            lock.release()
        for writer in writers:
            writer.close(timeout=DEADLINE_S)
        assert [store.last_seq(r.id) for r in runs] == [110, 210, 310]
        assert store.count("samples") == 10 + 100 + 200 + 300
        for i, r in enumerate(runs):
            (outage,) = _outages(store, r.id)
            assert outage.data["points_held"] == 100 * (i + 1)
            assert "locked" in outage.data["cause"]
            # the run's own events are kept, before the outage record
            kinds = [e.kind for e in store.events(r.id)]
            assert kinds == ["note", OUTAGE_EVENT]
    finally:
        store.close()


def test_replayed_blocks_across_an_outage_duplicate_nothing(db_path: Path, plan: Plan) -> None:
    store = _open(f"sqlite:///{db_path}")
    try:
        run = _new_run(store, plan)
        _short_busy_wait(store.shared_writer())
        with store.open_writer(run.id, channel="ch1", flush_interval_s=0.05) as writer:
            writer.append_samples(sample_block(1, 200))
            writer.flush(timeout=DEADLINE_S)
            lock = _Lock(db_path)
            try:
                writer.append_samples(sample_block(101, 200))  # half of it stored already
                writer.append_samples(sample_block(251, 100))  # overlaps the held block
                with pytest.raises(TimeoutError):
                    writer.flush(timeout=1.0)
            finally:
                lock.release()
        np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 351))
    finally:
        store.close()


# -- the bound on points held ----------------------------------------------------------------


def test_backlog_full_refuses_samples_but_drops_none(db_path: Path, plan: Plan) -> None:
    store = _open(f"sqlite:///{db_path}", backlog_rows=1000)
    try:
        run, other = _new_run(store, plan, "ch1"), _new_run(store, plan, "ch2")
        shared = store.shared_writer()
        _short_busy_wait(shared)
        lock = _Lock(db_path)
        try:
            writer = store.open_writer(run.id, channel="ch1", flush_interval_s=0.05)
            writer.append_samples(sample_block(1, 600))
            _wait_for("the writer to find the file locked", lambda: shared.outage_since)
            with pytest.raises(StoreBacklogFull, match="1200 points are held") as full:
                writer.append_samples(sample_block(601, 600))
            assert "locked" in str(full.value.__cause__)
            # every run shares the backlog: another channel is refused too
            second = store.open_writer(other.id, channel="ch2", flush_interval_s=0.05)
            with pytest.raises(StoreBacklogFull):
                second.append_samples(sample_block(1, 5))
            # records are still taken, so the stop can be recorded
            writer.event(EventRecord(OUTAGE_EVENT, "stopping", severity="alarm"))
            writer.checkpoint(_checkpoint(1200))
        finally:
            lock.release()
        writer.close(timeout=DEADLINE_S)
        second.close(timeout=DEADLINE_S)
        # the refused blocks were held all the same: nothing measured is lost
        np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 1201))
        assert store.last_seq(other.id) == 5
        assert shared.held_rows == 0
        # the database is back: samples are accepted again
        with store.open_writer(other.id, channel="ch2") as again:
            again.append_samples(sample_block(6, 5))
        assert store.last_seq(other.id) == 10
    finally:
        store.close()


def test_closing_while_unwritable_gives_up_in_time_and_says_what_is_lost(
    db_path: Path, plan: Plan
) -> None:
    """A process told to stop must stop: closing waits for the database a while, then
    raises, naming the rows it could not write."""
    store = _open(f"sqlite:///{db_path}")
    run = _new_run(store, plan)
    shared = store.shared_writer()
    _short_busy_wait(shared)
    shared.close_outage_s = 0.5
    lock = _Lock(db_path)
    try:
        writer = store.open_writer(run.id, channel="ch1", flush_interval_s=0.05)
        writer.append_samples(sample_block(1, 40))
        _wait_for("the writer to find the file locked", lambda: shared.outage_since)
        with pytest.raises(WriterError, match="40 rows held are lost"):
            store.close()
    finally:
        lock.release()
    reopened = _open(f"sqlite:///{db_path}")
    try:
        assert reopened.count("samples") == 0
        assert reopened.get_run(run.id).status == "running"  # type: ignore[union-attr]
    finally:
        reopened.close()


class _StopWatch:
    """A real simulator channel, and a note of every stop() the engine sends it."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self.stops = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self._channel.start_step(step, progress)

    def read(self) -> Samples:
        samples: Samples = self._channel.read()
        return samples

    def stop(self) -> None:
        self.stops += 1
        self._channel.stop()


def test_a_full_backlog_stops_the_run_with_its_reason_stored_later(
    db_path: Path, plan: Plan
) -> None:
    store = _open(f"sqlite:///{db_path}", backlog_rows=500)
    try:
        instrument = SimInstrument([plan.cell])
        channel = _StopWatch(instrument.channels[0])
        run = _new_run(store, plan, channel.name)
        other = _new_run(store, plan, "ch0")
        shared = store.shared_writer()
        _short_busy_wait(shared)
        lock = _Lock(db_path)
        # the database is found unwritable before the run logs (a simulator in virtual time
        # would otherwise hand over its whole run before the writer's first try)
        bystander = store.open_writer(other.id, channel="ch0", flush_interval_s=0.05)
        bystander.append_samples(sample_block(1, 1))
        _wait_for("the writer to find the file locked", lambda: shared.outage_since)
        reports: list[RunReport] = []
        driver = threading.Thread(
            target=lambda: reports.append(drive_run(store, run, plan, channel))
        )
        try:
            driver.start()
            _wait_for("the backlog to fill", lambda: channel.stops)
            time.sleep(0.5)  # the run has ended; its status waits for the database
            assert store.get_run(run.id).status == "running"  # type: ignore[union-attr]
        finally:
            lock.release()
        driver.join(DEADLINE_S)
        assert not driver.is_alive()
        bystander.close(timeout=DEADLINE_S)
        (report,) = reports
        assert (report.run.status, report.run.end_reason) == ("failed", BACKLOG_FULL_REASON)
        assert report.outcome.status == "failed"
        stored = store.samples(run.id)
        # every point the engine handed over is stored, once, up to the stop
        assert len(stored) >= 500
        np.testing.assert_array_equal(stored["seq"], np.arange(1, len(stored) + 1))
        assert len(stored) == report.outcome.points_stored
        alarms = [e for e in store.events(run.id) if e.kind == OUTAGE_EVENT]
        stop = next(e for e in alarms if e.severity == "alarm")
        assert stop.data["end_reason"] == BACKLOG_FULL_REASON and "unwritable" in stop.message
        assert any(e.message.startswith("database unwritable for") for e in alarms)
    finally:
        store.close()


def test_a_restart_ends_a_run_stopped_for_a_full_backlog(db_path: Path, plan: Plan) -> None:
    """The stop event got in, the status did not (the daemon was stopped first): the next
    daemon ends the run with the reason instead of resuming it."""
    store = _open(f"sqlite:///{db_path}")
    try:
        instrument = SimInstrument([plan.cell])
        channel = _StopWatch(instrument.channels[0])
        run = _new_run(store, plan, channel.name)
        store.add_event(
            run.id,
            EventRecord(
                OUTAGE_EVENT,
                "stopped: the database has been unwritable",
                severity="alarm",
                t=42.0,
                data={"end_reason": BACKLOG_FULL_REASON, "run_time_s": 42.0},
            ),
        )
        report = drive_run(store, run, plan, channel)
        assert (report.run.status, report.run.end_reason) == ("failed", BACKLOG_FULL_REASON)
        assert report.outcome.run_time_s == 42.0
        assert store.count("samples") == 0 and channel.stops == 0  # the cell was not touched
    finally:
        store.close()


# -- PostgreSQL restarted ----------------------------------------------------------------------


def _stopped_or_started(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr or done.stdout


def test_postgresql_restart_loses_nothing(own_postgres: PostgresServer, plan: Plan) -> None:
    url = own_postgres.create_database(own_postgres.unique_name("restart"))
    store = _open(url)
    try:
        run = _new_run(store, plan)
        shared = store.shared_writer()
        writer = store.open_writer(run.id, channel="ch1", flush_interval_s=0.05)
        writer.append_samples(sample_block(1, 100))
        writer.flush(timeout=DEADLINE_S)  # connected and writing
        _stopped_or_started(own_postgres.pg_ctl("-m", "fast", "stop"))
        try:
            writer.append_samples(sample_block(101, 400))
            writer.checkpoint(_checkpoint(500))
            _wait_for("the writer to notice the server is gone", lambda: shared.outage_since)
            with pytest.raises(TimeoutError):
                writer.flush(timeout=0.5)
            writer.append_samples(sample_block(501, 100))
        finally:
            _stopped_or_started(own_postgres.pg_ctl("start"))
        writer.close(timeout=DEADLINE_S)
        np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 601))
        checkpoint = store.checkpoint(run.id)
        assert checkpoint is not None and checkpoint.last_seq == 500
        (outage,) = _outages(store, run.id)
        assert outage.data["points_held"] == 500
    finally:
        store.close()


# -- the whole daemon, its file locked for longer than its busy timeout ----------------------


def test_daemon_runs_survive_a_long_lock_and_lose_nothing(
    lab: Lab, daemons: Callable[[Path], DaemonProcess]
) -> None:
    """Someone holds the file's write lock for longer than the writer's 10 s busy timeout,
    while two channels run at 100× real time: the runs go on, the writer holds their points,
    and when the lock is gone every point is stored once and the runs complete."""
    lab.instruments = [sim("cyc", channels=2, speed=100)]
    runs = [lab.submit(f"cyc:{n}", cycles=2) for n in (1, 2)]
    daemon = daemons(lab.config())
    store = lab.store()
    db = Path(str(store.engine.url.database))
    try:
        wait_for("both runs to log", lambda: all(store.last_seq(r) > 5 for r in runs), 60)
        lock = _Lock(db)
        try:
            time.sleep(12.0)  # past the writer's busy timeout: its commit fails, it holds
        finally:
            lock.release()
        wait_for("both runs to end", lambda: all(lab.run(r).is_completed for r in runs), 120)
        assert daemon.running()
    finally:
        store.close()
    store = lab.store()
    try:
        for run_id in runs:
            run = store.get_run(run_id)
            assert run is not None
            assert (run.status, run.end_reason) == ("completed", "completed"), daemon.text()
            seq = store.samples(run_id)["seq"]
            np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))  # once each
            steps = store.steps(run_id)
            assert steps and all(s.end_reason for s in steps)
            assert steps[-1].last_seq == seq[-1]
            (outage,) = _outages(store, run_id)
            assert outage.data["unwritable_s"] > 0 and "locked" in outage.data["cause"]
    finally:
        store.close()
    assert daemon.terminate() == 0
