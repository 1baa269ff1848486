"""Pause/resume at safe points, detach, and resume from a checkpoint (in-process, SQLite).

The simulated channel object is kept across a detach and its resume here, so the cell's
state survives as it does on real hardware: results must then equal an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from cyclerctl.drivers.base import Capabilities, Channel, Samples, StepProgress
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import total_positions
from cyclerctl.engine.resume import LastSample, ResumePoint, load_resume_point
from cyclerctl.engine.runner import DETACHED
from cyclerctl.engine.session import RunReport, drive_run
from cyclerctl.plan import EndCondition, Loop, Plan, RecordCriteria, SafetyLimit, Step
from cyclerctl.store import RunInfo, Store

from .factory import CELL, plan, step, until_time

I = CELL.nominal_capacity_Ah / 5  # type: ignore[operator]  # C/5, A


def _cycling(resumable: bool = True) -> Plan:
    return plan(
        step("ocv", ends=until_time(600)),
        Loop(
            "cycles",
            2,
            (
                step(
                    "charge",
                    "cc",
                    current_A=I,
                    ends=(EndCondition("voltage_above", 4.2),),
                    resumable=resumable,
                ),
                step("rest", ends=until_time(600)),
                step("discharge", "cc", current_A=-I, ends=(EndCondition("voltage_below", 3.0),)),
            ),
        ),
        record=RecordCriteria(every_s=30.0),
    )


class Tapped:
    """A channel that calls ``action(reads)`` before every read, and counts stop()."""

    def __init__(self, inner: Channel, action: Callable[[int], None]) -> None:
        self.inner = inner
        self.action = action
        self.reads = 0
        self.stops = 0
        self.starts: list[tuple[str, StepProgress | None]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self.starts.append((step.name, progress))
        self.inner.start_step(step, progress)

    def read(self) -> Samples:
        self.reads += 1
        self.action(self.reads)
        return self.inner.read()

    def stop(self) -> None:
        self.stops += 1
        self.inner.stop()


def _new_run(store: Store, p: Plan) -> RunInfo:
    return store.create_run(p, operator="test", instrument={"driver": "sim"}, channel="sim:1")


def _drive(
    store: Store,
    run: RunInfo,
    p: Plan,
    channel: Channel,
    control: RunControl | None = None,
    resume: ResumePoint | None = None,
    on_state: Callable[[str], None] | None = None,
) -> RunReport:
    return drive_run(store, run, p, channel, control=control, resume=resume, on_state=on_state)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    # closed after the test: its writer thread must not outlive it (tests/store counts them)
    opened = Store.open(db_url)
    try:
        yield opened
    finally:
        opened.close()


def _uninterrupted(store: Store, p: Plan) -> RunReport:
    channel = SimInstrument([p.cell]).channels[0]
    return _drive(store, _new_run(store, p), p, channel)


def _assert_same_run(store: Store, a: int, b: int) -> None:
    steps_a, steps_b = store.steps(a), store.steps(b)
    assert [s.step for s in steps_b] == list(range(1, len(steps_b) + 1))  # none replayed
    assert [(s.name, s.cycle, s.end_reason) for s in steps_b] == [
        (s.name, s.cycle, s.end_reason) for s in steps_a
    ]
    for x, y in zip(steps_a, steps_b, strict=True):
        assert y.charge_Ah == pytest.approx(x.charge_Ah, rel=1e-6, abs=1e-12)
        assert y.discharge_Ah == pytest.approx(x.discharge_Ah, rel=1e-6, abs=1e-12)
        assert y.t_end == pytest.approx(x.t_end, abs=1e-6)
    samples = store.samples(b)
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))  # no hole, no twin
    # nothing measured twice: time advances within a step (a step's first point shares its
    # instant with the previous step's last)
    same_step = np.diff(samples["step"]) == 0
    assert np.all(np.diff(samples["t"])[same_step] > 0) and np.all(np.diff(samples["t"]) >= 0)
    assert np.all(np.diff(samples["cycle"]) >= 0) and np.all(np.diff(samples["step"]) >= 0)


def test_pause_and_resume_continue_the_step_with_its_time_and_charge(store: Store) -> None:
    p = _cycling()
    reference = _uninterrupted(store, p)
    control = RunControl()
    states: list[str] = []

    def pause_twice(reads: int) -> None:
        if reads in (3, 12):
            control.pause("ana")

    def on_state(state: str) -> None:
        states.append(state)
        store.set_status(run.id, state)
        if state == "paused":
            assert store.get_run(run.id).status == "paused"  # type: ignore[union-attr]
            threading.Timer(0.05, control.resume, args=("bob",)).start()

    channel = Tapped(SimInstrument([p.cell]).channels[0], pause_twice)
    run = _new_run(store, p)
    report = _drive(store, run, p, channel, control, on_state=on_state)
    assert report.run.status == "completed"
    assert states == ["paused", "running", "paused", "running"]
    assert channel.stops == 2  # the channel rested while paused
    restarted = [progress for _, progress in channel.starts if progress and progress.elapsed_s]
    assert len(restarted) == 2 and all(p_.charge_C != 0.0 or p_.elapsed_s > 0 for p_ in restarted)
    _assert_same_run(store, reference.run.id, run.id)
    messages = [e.message for e in store.events(run.id) if e.kind == "operator"]
    assert any("paused by ana" in m for m in messages)
    assert any("resumed by bob" in m for m in messages)


def test_stop_while_paused_ends_the_step_with_reason_operator(store: Store) -> None:
    p = _cycling()
    control = RunControl()

    def pause(reads: int) -> None:
        if reads == 5:
            control.pause("ana")

    def on_state(state: str) -> None:
        if state == "paused":
            threading.Timer(0.05, control.stop, args=("bob",)).start()

    channel = Tapped(SimInstrument([p.cell]).channels[0], pause)
    report = _drive(store, _new_run(store, p), p, channel, control, on_state=on_state)
    assert report.run.status == "stopped" and report.run.end_reason == "operator"
    steps = store.steps(report.run.id)
    assert steps[-1].end_reason == "operator"
    assert any("stopped by bob" in e.message for e in store.events(report.run.id))


def _detach_then_resume(
    store: Store, p: Plan, at_read: int, *, same_channel: bool = True
) -> tuple[RunInfo, RunReport, RunReport, Tapped]:
    control = RunControl()

    def detach(reads: int) -> None:
        if reads == at_read:
            control.detach()

    sim = SimInstrument([p.cell]).channels[0]
    channel = Tapped(sim, detach)
    run = _new_run(store, p)
    first = _drive(store, run, p, channel, control)
    assert first.outcome.status == DETACHED and first.run.status == "running"
    point = load_resume_point(store, run.id)
    assert point is not None
    assert point.start_seq == store.last_seq(run.id) == first.outcome.points_stored
    again = Tapped(sim if same_channel else SimInstrument([p.cell]).channels[0], lambda _: None)
    second = _drive(store, run, p, again, resume=point)
    return run, first, second, again


def test_resume_from_a_checkpoint_mid_step_equals_an_uninterrupted_run(store: Store) -> None:
    p = _cycling()
    reference = _uninterrupted(store, p)
    run, first, second, again = _detach_then_resume(store, p, at_read=4)
    assert second.run.status == "completed"
    # re-entered the interrupted step part-way, with its elapsed time and charge
    name, progress = again.starts[0]
    checkpoint_step = store.steps(run.id)[first.outcome.steps_run - 1]
    assert name == checkpoint_step.name and progress is not None and progress.elapsed_s > 0
    _assert_same_run(store, reference.run.id, run.id)
    gaps = [e for e in store.events(run.id) if e.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].data["gap_s"] >= 0
    assert gaps[0].data["resumed_at_seq"] == first.outcome.points_stored + 1


def test_a_step_that_had_ended_is_not_replayed(store: Store) -> None:
    p = _cycling()
    reference = _uninterrupted(store, p)
    control = RunControl()
    sim = SimInstrument([p.cell]).channels[0]
    run = _new_run(store, p)

    def after(position: object, record: object) -> None:
        if getattr(record, "step", 0) == 2:
            control.detach()  # at the boundary: the checkpoint names an ended step

    first = drive_run(store, run, p, sim, control=control, on_step_end=after)
    assert first.outcome.status == DETACHED
    point = load_resume_point(store, run.id)
    assert point is not None and point.step is not None and point.step.end_reason is not None
    again = Tapped(sim, lambda _: None)
    second = _drive(store, run, p, again, resume=point)
    assert second.run.status == "completed"
    assert again.starts[0][0] == "rest" and not again.starts[0][1].elapsed_s  # type: ignore[union-attr]
    _assert_same_run(store, reference.run.id, run.id)
    assert len(store.steps(run.id)) == total_positions(p)


def test_a_step_marked_not_resumable_ends_the_run_interrupted(store: Store) -> None:
    p = _cycling(resumable=False)
    control = RunControl()
    sim = SimInstrument([p.cell]).channels[0]
    run = _new_run(store, p)
    started: list[str] = []

    def detach_in_charge(reads: int) -> None:
        if started and started[-1] == "charge":
            control.detach()

    class Watch(Tapped):
        def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
            started.append(step.name)
            super().start_step(step, progress)

    first = _drive(store, run, p, Watch(sim, detach_in_charge), control)
    assert first.outcome.status == DETACHED
    second = _drive(store, run, p, sim, resume=load_resume_point(store, run.id))
    assert second.run.status == "interrupted" and second.run.end_reason == "interrupted"
    steps = store.steps(run.id)
    assert steps[-1].name == "charge" and steps[-1].end_reason == "interrupted"
    assert any(e.kind == "interrupted" for e in store.events(run.id))


class _Scripted:
    """A host-sequenced or on-board channel that makes up a flat 1 pt/s trace."""

    def __init__(self, *, virtual: bool, native: frozenset[str]) -> None:
        self._caps = Capabilities((0.0, 5.0), 1.0, frozenset({"rest", "cc"}), native,
                                  virtual_time=virtual)  # fmt: skip
        self.t = 0.0
        self.stops = 0
        self.starts: list[StepProgress | None] = []
        self.stopped = False

    name = "scripted:1"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self.starts.append(progress)
        self.t = progress.elapsed_s if progress else 0.0
        self.stopped = False

    def read(self) -> Samples:
        from cyclerctl.drivers.base import SAMPLE_DTYPE

        if self.stopped:
            return Samples(ended=True)
        block = np.zeros(5, dtype=SAMPLE_DTYPE)
        block["t"] = self.t + np.arange(5)
        block["V"] = 3.7
        block["T"] = np.nan
        self.t += 5
        return Samples(block)

    def stop(self) -> None:
        self.stops += 1
        self.stopped = True


@pytest.mark.parametrize(
    ("native", "stops"),
    [(frozenset({"time"}), 0), (frozenset(), 1)],
    ids=["on-board step left running", "host-sequenced step brought to rest"],
)
def test_detach_leaves_on_board_steps_running_and_rests_host_sequenced_ones(
    store: Store, native: frozenset[str], stops: int
) -> None:
    p = plan(step("long rest", ends=until_time(10_000)))
    control = RunControl()
    channel = _Scripted(virtual=False, native=native)
    run = _new_run(store, p)
    threading.Timer(0.3, control.detach).start()
    report = drive_run(store, run, p, channel, control=control, poll_interval_s=0.05)
    assert report.outcome.status == DETACHED
    assert channel.stops == stops
    assert store.get_run(run.id).status == "running"  # type: ignore[union-attr]
    checkpoint = store.checkpoint(run.id)
    assert checkpoint is not None and checkpoint.last_seq == store.last_seq(run.id) > 0


def test_samples_newer_than_the_checkpoint_are_continued_not_overlapped(store: Store) -> None:
    """A batch committed between a block and its checkpoint: resume after the last sample."""
    p = plan(step("long rest", ends=until_time(40)))
    channel = _Scripted(virtual=True, native=frozenset())  # the host ends it on time
    run = _new_run(store, p)
    report = drive_run(store, run, p, channel)
    assert report.run.status == "completed"
    stored = store.samples(run.id)
    checkpoint = store.checkpoint(run.id)
    assert checkpoint is not None
    lagging = dataclasses.replace(checkpoint, step_elapsed_s=10.0, last_seq=10)
    point = ResumePoint(
        lagging,
        step=None,
        last_seq=int(stored["seq"][20]),
        last_sample=LastSample(int(stored["seq"][20]), float(stored["t"][20]), 0.0, 1),
    )
    rerun = _Scripted(virtual=True, native=frozenset())
    from cyclerctl.engine.runner import ChannelRunner

    class Sink:
        def __init__(self) -> None:
            self.rows: list[np.ndarray] = []

        def append_samples(self, block: np.ndarray) -> None:
            self.rows.append(block)

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *a: None

    sink = Sink()
    outcome = ChannelRunner(p, rerun, sink, resume=point).run()
    assert outcome.status == "completed"
    assert rerun.starts[0] is not None and rerun.starts[0].elapsed_s == float(stored["t"][20])
    rows = np.concatenate(sink.rows)
    assert rows["seq"][0] == stored["seq"][20] + 1 and rows["t"][0] > stored["t"][20]


def test_a_run_interrupted_before_its_first_checkpoint_resumes_from_its_last_point(
    store: Store,
) -> None:
    from cyclerctl.store import SAMPLE_ROW_DTYPE, StepRecord

    p = plan(step("long rest", ends=until_time(40)))
    run = _new_run(store, p)
    assert load_resume_point(store, run.id) is None  # never started: start afresh
    rows = np.zeros(12, dtype=SAMPLE_ROW_DTYPE)
    rows["seq"] = np.arange(1, 13)
    rows["t"] = np.arange(12.0)
    rows["V"], rows["step"] = 3.7, 1
    with store.open_writer(run.id, channel="sim:1") as writer:  # what a crash leaves
        writer.step_started(StepRecord(1, 0, "long rest", "rest", 0, (), 0.0, first_seq=1))
        writer.append_samples(rows)
    point = load_resume_point(store, run.id)
    assert point is not None and point.gap_s is None and point.start_seq == 12
    channel = _Scripted(virtual=True, native=frozenset())
    report = drive_run(store, run, p, channel, resume=point)
    assert report.run.status == "completed"
    assert channel.starts[0] is not None and channel.starts[0].elapsed_s == 11.0
    samples = store.samples(run.id)
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))
    assert np.all(np.diff(samples["t"]) > 0) and samples["t"][-1] == 40.0


def test_a_safety_stop_after_a_pause_is_timed_at_the_breaching_point(store: Store) -> None:
    p = plan(
        step("charge", "cc", current_A=I, ends=(EndCondition("voltage_above", 4.3),)),
        safety=(SafetyLimit("voltage_max", 4.1),),
        record=RecordCriteria(every_s=30.0),
    )
    control = RunControl()

    def pause_once(reads: int) -> None:
        if reads == 3:
            control.pause("ana")

    def on_state(state: str) -> None:
        store.set_status(run.id, state)
        if state == "paused":
            threading.Timer(0.05, control.resume, args=("ana",)).start()

    channel = Tapped(SimInstrument([p.cell]).channels[0], pause_once)
    run = _new_run(store, p)
    report = _drive(store, run, p, channel, control, on_state=on_state)
    assert report.run.status == "safety_stop"
    (alarm,) = [e for e in store.events(run.id) if e.kind == "safety"]
    last = store.samples(run.id)[-1]
    assert last["V"] > 4.1
    assert alarm.t == pytest.approx(float(last["t"]), abs=1e-6)  # the point that crossed
