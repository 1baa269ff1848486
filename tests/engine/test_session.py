"""Whole runs: the library protocol on the simulator into a real SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.sim import SimChannel, SimInstrument
from cyclerctl.engine.program import Position, total_positions
from cyclerctl.engine.session import RunReport, execute_run
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
def store(db_url: str) -> Store:
    return Store.open(db_url)


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
