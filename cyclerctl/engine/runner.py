"""The per-channel step state machine.

pending → running → ended(reason), one step after another as the Plan's loops unroll.
Each step is one :class:`~cyclerctl.engine.step.StepExecution`: every sample block from the
channel goes through, in this order:

1. the safety limits (a breach stops the channel at once: run status ``safety_stop``);
2. the end conditions the channel does not evaluate itself (host conditions);
3. the record criteria, which choose the points that are stored;

then to the sink (the store's batched writer), through the run's
:class:`~cyclerctl.engine.journal.RunJournal`. After every step, after every block in real
time (at least every ``checkpoint_interval_s`` of wall time in virtual time), a checkpoint
goes to the sink right behind the samples it covers, with the running step's row (its
charge so far), so a resumed step continues its tallies.

Between two reads — the loop's safe points — the runner acts on its :class:`RunControl`:
pause (stop the channel, checkpoint, wait; resume re-enters the same step with its elapsed
time and charge), stop (end the step, reason ``operator``), detach (leave the run for the
next daemon).

A lost or misbehaving instrument or chamber is met by its :class:`InstrumentWatch`
(:mod:`cyclerctl.engine.outage`): it records the fault, waits for the instrument and puts
the cell at rest, and says how the step goes on or how the run ends.

A runner given a :class:`ResumePoint` re-enters the checkpointed step, or the
one after it when that step had ended, and never replays a finished step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cyclerctl.drivers.base import Chamber, Channel
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.ending import DETACHED as DETACHED  # the daemon's session reads it here
from cyclerctl.engine.ending import StepEnd
from cyclerctl.engine.journal import RunJournal, RunSink
from cyclerctl.engine.outage import InstrumentWatch
from cyclerctl.engine.program import Position, positions, positions_from
from cyclerctl.engine.resume import ResumePoint
from cyclerctl.engine.safety import SafetyMonitor, combine
from cyclerctl.engine.step import Pacing, StepEntry, StepExecution
from cyclerctl.plan import (
    RUN_ENDING_REASONS,
    Plan,
    RecordCriteria,
    SafetyLimit,
    Step,
)
from cyclerctl.store import Checkpoint, StepRecord


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # completed | safety_stop | stopped | failed | interrupted | detached
    end_reason: str | None
    steps_run: int
    points_stored: int
    run_time_s: float


@dataclass
class ChannelRunner:
    plan: Plan
    channel: Channel
    sink: RunSink
    hard_limits: tuple[SafetyLimit, ...] = ()
    chamber: Chamber | None = None
    stop_request: threading.Event = field(default_factory=threading.Event)
    poll_interval_s: float = 0.5
    checkpoint_interval_s: float = 2.0
    silence_alarm_s: float = 3.0
    on_step_end: Callable[[Position, StepRecord], None] | None = None
    clock: Callable[[], float] = time.monotonic
    control: RunControl | None = None  # pause/resume/stop/detach; stop_request is its stop
    resume: ResumePoint | Checkpoint | None = None  # re-enter an interrupted run here
    start_seq: int | None = None  # samples continue after this seq (default: the resume's)
    on_state: Callable[[str], None] | None = None  # "paused" / "running" as they happen
    instrument_lost_after_s: float = 600.0  # a lost instrument ends the run after this
    soft_fault_limit: int = 3  # faults in a row (instrument answering) that count as lost

    def __post_init__(self) -> None:
        self.limits = combine(self.hard_limits, self.plan.safety)
        self.safety = SafetyMonitor(self.limits)
        if self.control is None:
            self.control = RunControl(self.stop_request)
        self.stop_request = self.control.stop_event
        self._control: RunControl = self.control
        if isinstance(self.resume, Checkpoint):
            self.resume = ResumePoint(self.resume, last_seq=self.start_seq)
        self._resume: ResumePoint | None = self.resume
        self.journal = RunJournal(self.sink, self._control, self.on_state)
        if self._resume is not None:
            self.journal.seq = self._resume.start_seq
            self.journal.impedance_seq = self._resume.start_impedance_seq
        if self.start_seq is not None:
            self.journal.seq = self.start_seq
        self.steps_run = 0
        self.watch = InstrumentWatch(
            channel=self.channel,
            chamber=self.chamber,
            control=self._control,
            event=self.journal.event,
            on_state=self.on_state,
            clock=self.clock,
            poll_interval_s=self.poll_interval_s,
            lost_after_s=self.instrument_lost_after_s,
            soft_fault_limit=self.soft_fault_limit,
        )

    @property
    def seq(self) -> int:
        """Seq of the last sample stored."""
        return self.journal.seq

    @property
    def run_time_s(self) -> float:
        """Where the run stands (s of run time)."""
        return self.journal.run_time_s

    # -- the run -------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Execute the whole plan (from the resume point, if given); every way out returns
        an outcome with a reason."""
        try:
            return self._run()
        finally:
            self._control.alive_at = None  # off the instrument: nothing left to watch

    def _run(self) -> RunOutcome:
        point = self._resume
        if point is None:
            walk = positions(self.plan)
        else:
            cp = point.checkpoint
            walk = positions_from(self.plan, cp.plan_index, tuple(cp.loop_counters))
        for position in walk:
            entry: StepEntry | None = None
            if point is not None:
                skip, entry = self._resume_entry(position, point)
                if skip:
                    continue  # the checkpointed step had ended: on to the next one
                self._gap_event(position, point, entry)
                point = None
                if entry is not None and not position.step.resumable:
                    return self._interrupted(position, entry)
            elif self.steps_run == 0:
                self.journal.event(position, "start", "info", f"run started on {self.channel.name}")
            if self._control.pause_requested or self._control.detach_requested:
                held = self._hold_between_steps(position)
                if held is not None:
                    if entry is not None and held.run_status == "stopped":
                        self._end_entry(position, entry, held.reason)
                    return self._outcome(held.run_status or DETACHED, held.reason)
            end = self._run_step(position, entry)
            if end.run_status is not None:
                return self._outcome(end.run_status, end.reason)
            if end.reason in RUN_ENDING_REASONS:
                # a shorted cell, or a chamber that never reached the temperature: the run
                # cannot go on. A short is what some protocols run for (CCD): completed.
                status = "completed" if end.reason == "short" else "failed"
                return self._outcome(status, end.reason)
        return self._outcome("completed", "completed")

    def _outcome(self, status: str, reason: str | None) -> RunOutcome:
        return RunOutcome(status, reason, self.steps_run, self.seq, self.run_time_s)

    def _run_step(self, position: Position, entry: StepEntry | None = None) -> StepEnd:
        execution = StepExecution(
            position,
            entry,
            self.channel,
            self.chamber,
            _criteria(position.step, self.plan),
            self._control,
            self.watch,
            self.journal,
            self.safety,
            Pacing(self.poll_interval_s, self.checkpoint_interval_s, self.silence_alarm_s),
            self.clock,
            self.on_step_end,
        )
        self.steps_run = position.ordinal
        return execution.run()

    # -- resuming ------------------------------------------------------------------------

    def _resume_entry(
        self, position: Position, point: ResumePoint
    ) -> tuple[bool, StepEntry | None]:
        """(skip this position, how to enter it) for the first position of a resumed walk."""
        cp = point.checkpoint
        entry: StepEntry | None = None
        if position.key == (cp.plan_index, tuple(cp.loop_counters)):
            if position.ordinal != cp.step:
                raise ValueError(
                    f"the plan does not match the run's checkpoint: step {cp.step} is "
                    f"step {position.ordinal} of this plan"
                )
            row = point.step
            self.steps_run = position.ordinal
            if row is not None and row.end_reason is not None:
                self.journal.run_time_s = row.t_end if row.t_end is not None else cp.step_t_start
                return True, None
            entry = StepEntry(cp.step_t_start, cp.step_elapsed_s, cp.step_charge_C, row, True)
        else:  # the step after an ended one: it may have started before the interruption
            row = point.next_step
            if row is not None and row.step == position.ordinal and row.end_reason is None:
                entry = StepEntry(row.t_start, row=row, reattach=True)
        sample = point.last_sample
        if sample is not None and sample.step == position.ordinal:
            if entry is None:
                entry = StepEntry(self.run_time_s, reattach=True)
            if sample.t - entry.t_start > entry.elapsed_s:
                entry.elapsed_s, entry.charge_C = sample.t - entry.t_start, sample.Q
        if entry is not None:
            self.journal.run_time_s = entry.t_start + entry.elapsed_s
        return False, entry

    def _gap_event(self, position: Position, point: ResumePoint, entry: StepEntry | None) -> None:
        gap = point.gap_s
        where = (
            f"step {position.ordinal} ({position.step.name}) at {entry.elapsed_s:.1f} s"
            if entry is not None
            else f"the start of step {position.ordinal} ({position.step.name})"
        )
        length = "" if gap is None else f" after a gap of {gap:.1f} s"
        self.journal.event(
            position,
            "gap",
            "warning",
            f"resumed{length}: re-entering {where}; samples continue at seq {self.seq + 1}",
            t=self.run_time_s,
            data={
                "gap_s": gap,
                "resumed_at_seq": self.seq + 1,
                "step_elapsed_s": None if entry is None else entry.elapsed_s,
            },
        )

    def _interrupted(self, position: Position, entry: StepEntry) -> RunOutcome:
        """A step that must not be re-entered (resumable = false) ends the run here."""
        self.steps_run = position.ordinal
        self.journal.event(
            position,
            "interrupted",
            "alarm",
            f"step {position.ordinal} ({position.step.name}) cannot be resumed after an "
            "interruption (resumable = false): the run ends here",
            t=self.run_time_s,
        )
        self._end_entry(position, entry, "interrupted")
        return self._outcome("interrupted", "interrupted")

    def _end_entry(self, position: Position, entry: StepEntry, reason: str) -> None:
        """End a step that was in progress when the run was interrupted, without running it."""
        self.journal.save_step(position, entry.t_start, entry.tally(), reason)

    # -- pausing -------------------------------------------------------------------------

    def _hold_between_steps(self, position: Position) -> StepEnd | None:
        """A pause (or detach) due before ``position`` starts: the channel is at rest.

        Returns how the run ends (stop, detach), or None to go on with the step.
        """
        if self._control.detach_requested:
            return StepEnd.detached()
        if self.stop_request.is_set():
            return None  # the step starts and is ended at once, with reason operator
        self.journal.paused(position, self.run_time_s, f"before step {position.ordinal}")
        self._control.wait_while_paused()
        if self._control.detach_requested:
            return StepEnd.detached()
        if self.stop_request.is_set():
            self.journal.stopped(position)
            return StepEnd.stopped()
        self.journal.resumed(position, self.run_time_s)
        return None


def _criteria(step: Step, plan: Plan) -> RecordCriteria:
    return step.record if _any(step.record) else plan.record


def _any(criteria: RecordCriteria) -> bool:
    return any(v is not None for v in (criteria.every_s, criteria.delta_V, criteria.delta_I))
