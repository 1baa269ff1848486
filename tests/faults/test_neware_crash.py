"""A daemon that dies at a chosen moment of a Neware step, resumed as the next daemon does.

Deterministic: the emulator runs in virtual time, so its cells advance only when records
are asked for, and :meth:`NewareEmulator.run_unwatched` stands for the time no daemon was
alive (the cycler keeps measuring). A "daemon" is one :class:`ChannelRunner` on its own
connection; it dies by an exception thrown out of its channel at the chosen moment (just
after a step's start, on its n-th read, on the read that sees the on-board end), after an
optional pause and resume. Its sink is the real store's writer behind a commit lag: what the
dying daemon queued last (``lost``) never reaches the database, as with a writer that had
not committed yet. The next daemon opens a new connection and a new channel object, loads
the resume point from the database and runs on from there.

The run must come out as the same run never interrupted, through an emulator with the
same seed: the same steps and end reasons, each step's charge within 0.5 %, and its points
one unbroken sequence with no point twice and no hole longer than the record interval (but
at a CC-CV's switch from its CC to its CV part, at most two intervals).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.base import Capabilities, Samples, StepProgress
from cyclerctl.drivers.neware import NewareChannel, NewareEmulator, open_instrument
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.resume import load_resume_point
from cyclerctl.engine.runner import ChannelRunner, RunOutcome
from cyclerctl.plan import Plan, Step
from cyclerctl.protocol import load_plan
from cyclerctl.store import Checkpoint, EventRecord, StepRecord, Store

SEED = 11
KEY = "1-1-1"
#: the kill test's protocol: one formation cycle and one cycle, 2 min rests (8 steps)
SETTINGS = {"cycles": "1", "formation_cycles": "1", "rest": "2 min"}
RECORD_EVERY_S = 10.0  # the protocol's [record] every
#: records a read brings: a daemon can die every 200 s of the cell's time
DOWNLOAD_RECORDS = 20
#: steps: 1 formation charge (cccv), 2 rest, 3 formation discharge (cc), 4 rest, 5 charge…
FORMATION_CHARGE, FIRST_REST, FORMATION_DISCHARGE = 1, 2, 3


class DaemonDied(BaseException):
    """The daemon process is gone: nothing after this point happened on the host."""


@dataclass(frozen=True, slots=True)
class Death:
    """When and how one daemon dies."""

    step: int  # the run's step ordinal it dies in
    at: str  # "start" (just after the step's start) | "read" (its n-th read) | "end"
    reads: int = 0  # at="read": dies on this read since the step (re)started on board
    lost: int = 0  # the last calls to the sink that were never committed
    unwatched: int = 0  # records the cycler makes while no daemon is alive
    pause_after: int | None = None  # paused, and resumed at once, after this many reads


@dataclass
class Life:
    """One daemon's run: where it is, and what it queued for the database."""

    death: Death | None
    control: RunControl = field(default_factory=RunControl)
    step: int = 0
    reads: int = 0  # since the step last (re)started on board, or was taken over
    paused: bool = False
    queued: list[tuple[str, Any]] = field(default_factory=list)


class LaggingSink:
    """The runner's sink: every call is kept in order, committed when the life ends."""

    def __init__(self, life: Life) -> None:
        self.life = life

    def _queue(self, kind: str, item: Any) -> None:
        self.life.queued.append((kind, item))

    def append_samples(self, block: np.ndarray) -> None:
        self._queue("append_samples", block.copy())

    def append_impedance(self, block: np.ndarray) -> None:
        self._queue("append_impedance", block.copy())

    def step_started(self, record: StepRecord) -> None:
        if record.step != self.life.step:
            self.life.step, self.life.reads, self.life.paused = record.step, 0, False
        self._queue("step_started", record)

    def step_ended(self, record: StepRecord) -> None:
        self._queue("step_ended", record)

    def event(self, record: EventRecord) -> None:
        self._queue("event", record)

    def checkpoint(self, record: Checkpoint) -> None:
        self._queue("checkpoint", record)


class MortalChannel:
    """The driver's channel as one daemon sees it, until the moment that daemon dies."""

    def __init__(self, inner: NewareChannel, life: Life) -> None:
        self.inner = inner
        self.life = life
        self.name = inner.name
        self.capabilities: Capabilities = inner.capabilities
        self.reattached: list[bool] = []

    def _dies_here(self, at: str) -> bool:
        death = self.life.death
        return death is not None and death.step == self.life.step and death.at == at

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self.inner.start_step(step, progress)
        self.life.reads = 0
        if self._dies_here("start"):
            raise DaemonDied

    def reattach(self, step: Step, progress: StepProgress) -> bool:
        attached = self.inner.reattach(step, progress)
        self.life.reads = 0
        self.reattached.append(attached)
        return attached

    def read(self) -> Samples:
        samples = self.inner.read()
        death, life = self.life.death, self.life
        if death is None or death.step != life.step:
            return samples
        life.reads += 1
        if death.pause_after is not None and life.reads == death.pause_after and not life.paused:
            life.control.pause("test")
            life.paused = True
        if death.at == "read" and life.reads == death.reads:
            raise DaemonDied
        if death.at == "end" and samples.ended:
            raise DaemonDied
        return samples

    def stop(self) -> None:
        self.inner.stop()


@dataclass
class Outcome:
    run_id: int
    outcome: RunOutcome
    reattached: list[bool]


def plan() -> Plan:
    return load_plan("ncm622-cycling", "ncm622-coin", SETTINGS)


def run_with_deaths(
    store: Store, folder: Path, deaths: list[Death], *, seed: int = SEED
) -> Outcome:
    """The whole run through one emulator, one daemon per death and a last one to the end."""
    the_plan = plan()
    emulator = NewareEmulator([the_plan.cell], seed=seed)
    run = store.create_run(
        the_plan, operator="test", instrument={"driver": "neware"}, channel="neware:1-1-1"
    )
    reattached: list[bool] = []
    try:
        for n, death in enumerate([*deaths, None]):
            life = Life(death)
            options = {
                "virtual_time": True,
                "stepfile_dir": str(folder / f"life{n}"),
                "download_records": DOWNLOAD_RECORDS,
            }
            instrument = open_instrument(emulator.address, options)
            channel = MortalChannel(instrument.channels[0], life)
            runner = ChannelRunner(
                the_plan,
                channel,
                LaggingSink(life),
                control=life.control,
                resume=load_resume_point(store, run.id),
                checkpoint_interval_s=0.0,  # after every block: the same on every machine
                on_state=resumed_at_once(life.control),
            )
            try:
                outcome = runner.run()
            except DaemonDied:
                assert death is not None
                instrument.link.close()  # the process is gone: nothing is stopped
                commit(store, run.id, life.queued[: len(life.queued) - death.lost])
                emulator.run_unwatched(KEY, death.unwatched)
                reattached.extend(channel.reattached)
                continue
            assert death is None, f"the run ended before {death} came"
            commit(store, run.id, life.queued)
            reattached.extend(channel.reattached)
            instrument.close()
            return Outcome(run.id, outcome, reattached)
    finally:
        emulator.close()
    raise AssertionError("unreachable")


def resumed_at_once(control: RunControl) -> Callable[[str], None]:
    """The runner's on_state: a pause is resumed as soon as the channel is at rest."""

    def follow(state: str) -> None:
        if state == "paused":
            control.resume("test")

    return follow


def commit(store: Store, run_id: int, calls: list[tuple[str, Any]]) -> None:
    writer = store.open_writer(run_id, channel="neware:1-1-1")
    try:
        for kind, item in calls:
            getattr(writer, kind)(item)
    finally:
        writer.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def reference(store: Store, tmp_path: Path) -> Outcome:
    return run_with_deaths(store, tmp_path / "reference", [])


def assert_same_run(store: Store, got: Outcome, want: Outcome) -> None:
    assert got.outcome.status == "completed", store.events(got.run_id)
    steps, ref_steps = store.steps(got.run_id), store.steps(want.run_id)
    assert [(s.step, s.plan_index, s.cycle) for s in steps] == [
        (s.step, s.plan_index, s.cycle) for s in ref_steps
    ]
    report = "\n".join(
        f"{a.step} {a.name}: {a.charge_Ah * 1e3:.5f}/{b.charge_Ah * 1e3:.5f} mAh charge, "
        f"{a.discharge_Ah * 1e3:.5f}/{b.discharge_Ah * 1e3:.5f} mAh discharge, "
        f"{duration(a):.0f}/{duration(b):.0f} s, "
        f"{a.end_reason}/{b.end_reason}"
        for a, b in zip(steps, ref_steps, strict=True)
    )
    assert [s.end_reason for s in steps] == [s.end_reason for s in ref_steps], report
    for a, b in zip(steps, ref_steps, strict=True):
        assert a.charge_Ah == pytest.approx(b.charge_Ah, rel=0.005, abs=1e-9), report
        assert a.discharge_Ah == pytest.approx(b.discharge_Ah, rel=0.005, abs=1e-9), report
        assert a.t_end is not None and b.t_end is not None
        assert a.t_end - a.t_start == pytest.approx(b.t_end - b.t_start, rel=0.005), report
    samples = store.samples(got.run_id)
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1)), "a seq twice or none"
    for s in steps:
        assert s.first_seq is not None and s.last_seq is not None
        mine = samples[s.first_seq - 1 : s.last_seq]
        assert np.all(mine["step"] == s.step)
        t = mine["t"]
        assert np.all(np.diff(t) > 0), f"step {s.step}: a point twice"
        # a CC-CV runs as a CC then a CV step on board, each recording on its own grid
        # from its start: across that one switch two points may lie two intervals apart
        gaps = int((np.diff(t) > RECORD_EVERY_S + 1e-6).sum())
        assert gaps <= 1 and np.diff(t).max() <= 2 * RECORD_EVERY_S, (
            f"step {s.step}: a hole\n{report}"
        )
        assert t[0] - s.t_start <= RECORD_EVERY_S + 1e-6, f"step {s.step}: its start missing"


def duration(step: StepRecord) -> float:
    return 0.0 if step.t_end is None else step.t_end - step.t_start


def resumed_steps(store: Store, run_id: int) -> list[int]:
    return [int(e.data["step"]) for e in store.events(run_id) if e.kind == "gap"]


# -- the deaths ---------------------------------------------------------------------------

MID_CHARGE = Death(FORMATION_CHARGE, "read", reads=40, lost=3, unwatched=300)


def test_the_reference_run_is_the_plain_run(store: Store, reference: Outcome) -> None:
    """The harness itself: a run with no death ends like any run, every step in place."""
    assert reference.outcome.status == "completed"
    assert resumed_steps(store, reference.run_id) == []
    assert_same_run(store, reference, reference)


def test_a_death_mid_step_costs_nothing(store: Store, reference: Outcome, tmp_path: Path) -> None:
    got = run_with_deaths(store, tmp_path / "crash", [MID_CHARGE])
    assert got.reattached == [True]
    assert resumed_steps(store, got.run_id) == [FORMATION_CHARGE]
    assert_same_run(store, got, reference)
    # nothing restarted: the very records of the uninterrupted run
    a, b = store.samples(got.run_id), store.samples(reference.run_id)
    for name in ("seq", "t", "V", "I", "Q", "step"):
        assert np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "death",
    [
        Death(FORMATION_DISCHARGE, "start", lost=0, unwatched=50),
        Death(FIRST_REST, "start", lost=0, unwatched=50),  # the rest ends meanwhile
    ],
    ids=["discharge", "rest-ends-unwatched"],
)
def test_a_death_just_after_a_step_started(
    store: Store, reference: Outcome, tmp_path: Path, death: Death
) -> None:
    got = run_with_deaths(store, tmp_path / "crash", [death])
    assert got.reattached == [True]
    assert_same_run(store, got, reference)


@pytest.mark.parametrize(
    "death",
    [
        Death(FORMATION_DISCHARGE, "start", lost=3, unwatched=50),
        # the formation charge ended on board, the rest after it too: charged once only
        Death(FIRST_REST, "start", lost=3, unwatched=50),
        # the charge's end, the whole rest and the discharge's start never committed (the
        # kill test's +7 % formation charge: the discharge was stopped and the charge run
        # again from where the database had it, +19 % here)
        Death(FORMATION_DISCHARGE, "start", lost=12, unwatched=50),
    ],
    ids=["discharge-working", "rest-ended", "two-steps-behind"],
)
def test_a_death_before_the_step_start_was_committed(
    store: Store, reference: Outcome, tmp_path: Path, death: Death
) -> None:
    """The cycler runs the next step; the database still holds the step before as running:
    its rest and end come from its own (earlier) test, the next step's test is taken over."""
    got = run_with_deaths(store, tmp_path / "crash", [death])
    assert got.reattached == [True]
    assert_same_run(store, got, reference)
    a, b = store.samples(got.run_id), store.samples(reference.run_id)
    for name in ("seq", "t", "V", "I", "Q", "step"):
        assert np.array_equal(a[name], b[name]), name


def test_a_death_between_the_on_board_end_and_its_record(
    store: Store, reference: Outcome, tmp_path: Path
) -> None:
    got = run_with_deaths(store, tmp_path / "crash", [Death(FORMATION_CHARGE, "end", lost=2)])
    assert got.reattached == [True]
    assert_same_run(store, got, reference)


def test_a_death_after_a_pause_and_resume_part_way(
    store: Store, reference: Outcome, tmp_path: Path
) -> None:
    """The resumed step runs as a new test on board, its records from 0: the next daemon
    must still find where the stored data ends in it."""
    death = dataclasses.replace(MID_CHARGE, pause_after=20)
    got = run_with_deaths(store, tmp_path / "crash", [death])
    assert got.reattached == [True]
    assert_same_run(store, got, reference)


def test_a_restarted_step_that_ends_on_board_before_its_first_checkpoint(
    store: Store, reference: Outcome, tmp_path: Path
) -> None:
    """Paused part-way, resumed as a new test, dead at once with nothing committed since:
    the cycler ends the step meanwhile. It must not run again."""
    death = Death(FORMATION_DISCHARGE, "read", reads=1, lost=0, unwatched=10_000)
    got = run_with_deaths(store, tmp_path / "crash", [dataclasses.replace(death, pause_after=20)])
    assert got.reattached == [True]
    assert_same_run(store, got, reference)


def test_death_after_death(store: Store, reference: Outcome, tmp_path: Path) -> None:
    deaths = [
        dataclasses.replace(MID_CHARGE, pause_after=10),
        Death(FORMATION_CHARGE, "read", reads=30, lost=1, unwatched=200),
        Death(FORMATION_CHARGE, "end", lost=4),
        Death(FORMATION_DISCHARGE, "read", reads=5, lost=0, unwatched=100, pause_after=2),
        Death(FORMATION_DISCHARGE, "read", reads=7, lost=2, unwatched=100),
        Death(5, "start", lost=0, unwatched=30),
    ]
    got = run_with_deaths(store, tmp_path / "crash", deaths)
    # the fourth died while the pause's stop was still being read: a test stopped on board
    # is never taken over, the step restarts from the stored progress
    assert got.reattached == [True, True, True, False, True, True]
    assert resumed_steps(store, got.run_id) == [1, 1, 1, 3, 3, 5]
    assert_same_run(store, got, reference)
