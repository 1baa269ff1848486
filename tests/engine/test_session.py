"""Whole runs: the library protocol on the simulator into a real SQLite file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.sim import SimChannel, SimInstrument
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import Position, total_positions
from cyclerctl.engine.session import RunReport, drive_run, execute_run
from cyclerctl.plan import Plan, Step
from cyclerctl.protocol import load_plan
from cyclerctl.store import StepRecord, Store


def _run(
    store: Store,
    plan: Plan,
    *,
    native: frozenset[str] | None = None,
    channel: SimChannel | None = None,
    stop_request: threading.Event | None = None,
    on_step_end: Callable[[Position, StepRecord], None] | None = None,
) -> RunReport:
    instrument = SimInstrument([plan.cell], native_end_conditions=native)
    return execute_run(
        store,
        plan,
        channel or instrument.channels[0],
        instrument=instrument.identity.as_dict(),
        operator="test",
        stop_request=stop_request,
        on_step_end=on_step_end,
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    # closed after the test: its writer thread must not outlive it (tests/store counts them)
    opened = Store.open(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.mark.slow
def test_hundred_cycles_meet_the_acceptance_figures(store: Store) -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "100"})
    report = _run(store, plan)
    run = report.run
    assert run.status == "completed" and run.end_reason == "completed" and run.is_completed
    samples = store.samples(run.id)
    # every stored voltage inside the protocol's safety window
    assert samples["V"].min() >= 2.8 and samples["V"].max() <= 4.4
    # nothing lost, nothing twice: seq runs 1..N, the checkpoint covers the last point
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))
    checkpoint = store.checkpoint(run.id)
    assert checkpoint is not None and checkpoint.last_seq == len(samples)
    steps = store.steps(run.id)
    assert len(steps) == total_positions(plan) == 4 * 102
    assert all(s.end_reason for s in steps)
    results = store.results(run.id)
    fade = 0.0005
    implied = (1 - fade) ** (100 - 1)  # first to last cycle after formation
    assert results["capacity_retention"].value == pytest.approx(implied, abs=0.01)
    specific = 175.0  # mAh/g × utilization 1.0, from the cell file
    assert results["first_discharge_capacity_mAh_g"].value == pytest.approx(specific, rel=0.03)
    assert results["mean_ce"].value == pytest.approx(0.998, abs=0.001)
    assert len(results["cycles"].data) == 102


def test_host_evaluated_conditions_give_the_same_cell_behaviour(store: Store) -> None:
    """A channel that only ends on time (an SMU): the engine ends the steps itself."""
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "2", "formation_cycles": "1"})
    native = _run(store, plan)
    hosted = _run(store, plan, native=frozenset({"time"}))
    assert hosted.run.status == "completed"
    a = {s.step: s for s in store.steps(native.run.id)}
    b = {s.step: s for s in store.steps(hosted.run.id)}
    assert [s.end_reason for s in a.values()] == [s.end_reason for s in b.values()]
    for k in a:  # ends are found on the 1 s sample grid instead of interpolated
        assert b[k].charge_Ah == pytest.approx(a[k].charge_Ah, rel=0.01, abs=1e-9)
        assert b[k].discharge_Ah == pytest.approx(a[k].discharge_Ah, rel=0.01, abs=1e-9)


def test_operator_stop_ends_the_run_with_a_recorded_reason(store: Store) -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "5"})
    stop = threading.Event()

    def after_step(position: Position, record: StepRecord) -> None:
        if position.ordinal == 3:
            stop.set()

    report = _run(store, plan, stop_request=stop, on_step_end=after_step)
    assert report.run.status == "stopped" and report.run.end_reason == "operator"
    steps = store.steps(report.run.id)
    assert len(steps) == 4 and steps[-1].end_reason == "operator"
    assert any(e.kind == "operator" for e in store.events(report.run.id))


class _FailingChannel(SimChannel):
    """A simulated channel whose link dies after a number of reads."""

    reads_left = 40

    def read(self) -> Samples:
        self.reads_left -= 1
        if self.reads_left < 0:
            raise ConnectionError("link to sim:1 lost")
        return super().read()

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        super().start_step(step, progress)


def test_a_driver_fault_fails_the_run_and_keeps_what_was_measured(store: Store) -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "5"})
    real = SimInstrument([plan.cell]).channels[0]
    failing = _FailingChannel(real.model, name="sim:1", rng=np.random.default_rng(3))
    report = _run(store, plan, channel=failing)
    run = report.run
    assert run.status == "failed" and run.end_reason == "error:ConnectionError"
    events = store.events(run.id)
    assert any(e.kind == "error" and "link to sim:1 lost" in e.message for e in events)
    samples = store.samples(run.id)
    assert len(samples) > 0 and samples["seq"][-1] == report.outcome.points_stored


def test_realtime_with_speed_follows_the_wall_clock(tmp_path: Path) -> None:
    protocol = tmp_path / "short.toml"
    protocol.write_text(
        'name = "short"\ndescription = "rest then a short charge"\n'
        '[record]\nevery = "1 s"\n'
        '[[steps]]\ntype = "rest"\nuntil = { time = "20 s" }\n'
        '[[steps]]\ntype = "cc"\ncurrent = "C/10"\nuntil = { time = "40 s" }\n'
    )
    plan = load_plan(str(protocol), "ncm622-coin")
    store = Store.open(f"sqlite:///{tmp_path / 'rt.db'}")
    instrument = SimInstrument([plan.cell], realtime=True, speed=200.0)
    report = execute_run(
        store,
        plan,
        instrument.channels[0],
        instrument=instrument.identity.as_dict(),
        operator="test",
    )
    assert report.run.status == "completed"
    samples = store.samples(report.run.id)
    assert samples["t"][-1] == pytest.approx(60.0, abs=1e-6)
    steps = store.steps(report.run.id)
    assert [s.end_reason for s in steps] == ["time", "time"]
    store.close()


def test_data_the_store_refuses_fails_the_run_with_the_reason_recorded(store: Store) -> None:
    """The database refuses a run's points (here a trigger, as a constraint would): the run
    ends failed with the refusal as an event, never completed with its data missing."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_late_points BEFORE INSERT ON samples WHEN NEW.seq > 100 "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "2"})
    report = _run(store, plan)
    run = report.run
    assert run.status == "failed" and run.is_completed
    # the engine met the fault (error:WriterError), or finished first and the fault came
    # at the last commit (store:writer-failed): either way it is the recorded reason
    assert run.end_reason in ("error:WriterError", "store:writer-failed")
    alarms = [e for e in store.events(run.id) if e.kind == "error" and e.severity == "alarm"]
    assert any("refused by the test" in e.message for e in alarms)
    assert store.last_seq(run.id) <= 100


class _ExitingChannel(SimChannel):
    """A simulated channel whose reads call ``sys.exit`` after a number of them (as a driver
    or a callback may); ``before_exit`` runs first. Its stops are counted."""

    reads_left = 40
    stops = 0

    def __init__(self, *args: Any, before_exit: Callable[[], None] = lambda: None, **kw: Any):
        super().__init__(*args, **kw)
        self.before_exit = before_exit

    def read(self) -> Samples:
        self.reads_left -= 1
        if self.reads_left < 0:
            self.before_exit()
            raise SystemExit("told to exit")
        return super().read()

    def stop(self) -> None:
        self.stops += 1
        super().stop()


def _exiting(plan: Plan, before_exit: Callable[[], None] = lambda: None) -> _ExitingChannel:
    real = SimInstrument([plan.cell]).channels[0]
    return _ExitingChannel(
        real.model, name="sim:1", rng=np.random.default_rng(3), before_exit=before_exit
    )


def test_a_system_exit_is_raised_again_with_the_run_ended_failed(store: Store) -> None:
    """SystemExit is not an Exception: it ends the run as a fault does (failed, the reason
    and traceback recorded, the channel stopped, what was measured kept), then goes on up."""
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "5"})
    channel = _exiting(plan)
    with pytest.raises(SystemExit, match="told to exit"):
        _run(store, plan, channel=channel)
    (run,) = store.list_runs()
    assert run.status == "failed" and run.end_reason == "error:SystemExit" and run.is_completed
    errors = [e for e in store.events(run.id) if e.kind == "error"]
    assert len(errors) == 1 and errors[0].message == "told to exit"
    assert "SystemExit" in str(errors[0].data["traceback"])
    assert channel.stops >= 1
    samples = store.samples(run.id)
    assert len(samples) > 0
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))


def test_a_system_exit_while_the_database_is_unwritable_is_not_masked(tmp_path: Path) -> None:
    """The daemon is stopping (detach) and the database is locked by someone else when
    SystemExit comes: the writer cannot commit and gives up. The SystemExit goes on up (not
    an error about the run's outcome), and the run is left running at its last committed
    checkpoint for the next daemon, as any detached run."""
    path = tmp_path / "runs.db"
    store = Store.open(f"sqlite:///{path}")
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "5"})
    run = store.create_run(plan, operator="test", instrument={}, channel="sim:1")

    @event.listens_for(store.shared_writer().engine, "connect")
    def _busy(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 50")  # a locked file fails fast

    control = RunControl()
    locks: list[sqlite3.Connection] = []

    def lock_and_detach() -> None:
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # someone else holds the file's write lock
        locks.append(lock)
        control.detach()  # the daemon is told to stop

    try:
        with pytest.raises(SystemExit, match="told to exit"):
            drive_run(store, run, plan, _exiting(plan, lock_and_detach), control=control)
    finally:
        for lock in locks:
            lock.execute("COMMIT")
            lock.close()
    assert len(locks) == 1
    left = store.get_run(run.id)
    assert left is not None and left.status == "running" and left.end_reason is None
    store.close()
