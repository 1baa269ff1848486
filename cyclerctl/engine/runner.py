"""The per-channel step state machine.

pending → running → ended(reason), one step after another as the Plan's loops unroll.
Each sample block from the channel goes through, in this order:

1. the safety limits (a breach stops the channel at once: run status ``safety_stop``);
2. the end conditions the channel does not evaluate itself (host conditions);
3. the record criteria, which choose the points that are stored;

then to the sink (the store's batched writer). After every step, after every block in real
time (at least every ``checkpoint_interval_s`` of wall time in virtual time), a checkpoint
goes to the sink right behind the samples it covers, with the running step's row (its
charge so far), so a resumed step continues its tallies.

Between two reads — the loop's safe points — the runner acts on its :class:`RunControl`:
pause (stop the channel, checkpoint, wait; resume re-enters the same step with its elapsed
time and charge), stop (end the step, reason ``operator``), detach (leave the run for the
next daemon).

Instrument faults (:class:`~cyclerctl.drivers.base.InstrumentFault`, any driver) never
escape as an unhandled exception: each is an ``instrument`` event naming the instrument,
the command and what went wrong. A fault that leaves the instrument answering (a garbled
reply, a refusal) is a warning, and the step goes on; ``soft_fault_limit`` of them in a
row count as a lost instrument. A lost instrument:

- host-sequenced channel: the run pauses at once (alarm event, status paused); the runner
  asks for the safe state (``stop()``: output off, open circuit) every poll until the
  instrument answers, records the outage as a ``gap`` event, and re-enters the step with
  its elapsed time and charge; a step that is not resumable ends the run ``interrupted``;
- a channel that runs the step on board: the step goes on there; the runner keeps reading
  (the driver reconnects and fetches what was buffered) and records the ``gap`` when data
  flows again;
- either way, an instrument still out of reach after ``instrument_lost_after_s`` ends the
  run ``failed`` with reason ``instrument:lost``; an operator's stop or a detach during the
  wait is honoured.

A chamber that does not answer (a vanished serial port) is an ``instrument`` event too:
its readings are missing (no temperature, so a soak waits), a set point not yet
acknowledged is sent again every poll, and the chamber step's own timeout bounds the wait.

A runner given a :class:`ResumePoint` re-enters the checkpointed step, or the
one after it when that step had ended, and never replays a finished step.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from cyclerctl.drivers.base import Chamber, Channel, InstrumentFault, StepProgress
from cyclerctl.engine.chamber import STABLE, TIMEOUT, StabilityWatch
from cyclerctl.engine.conditions import HostConditions
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import Position, positions, positions_from
from cyclerctl.engine.reattach import Reattachable
from cyclerctl.engine.recording import Recorder
from cyclerctl.engine.resume import ResumePoint
from cyclerctl.engine.safety import SafetyMonitor, combine
from cyclerctl.plan import (
    RUN_ENDING_REASONS,
    EndCondition,
    Plan,
    RecordCriteria,
    SafetyLimit,
    Step,
)
from cyclerctl.store import (
    IMPEDANCE_ROW_DTYPE,
    SAMPLE_ROW_DTYPE,
    Checkpoint,
    EventRecord,
    StepRecord,
)

C_PER_AH = 3600.0
J_PER_WH = 3600.0


class RunSink(Protocol):
    """Where a running channel's data goes (the store's RunWriter in production)."""

    def append_samples(self, block: np.ndarray) -> None: ...
    def append_impedance(self, block: np.ndarray) -> None: ...
    def step_started(self, record: StepRecord) -> None: ...
    def step_ended(self, record: StepRecord) -> None: ...
    def event(self, record: EventRecord) -> None: ...
    def checkpoint(self, record: Checkpoint) -> None: ...


#: RunOutcome.status of a run left for the next daemon: not a status the database records
DETACHED = "detached"
#: the end reason of a run whose instrument stayed out of reach for instrument_lost_after_s
LOST = "instrument:lost"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # completed | safety_stop | stopped | failed | interrupted | detached
    end_reason: str | None
    steps_run: int
    points_stored: int
    run_time_s: float


@dataclass(slots=True)
class StepTally:
    """What a step moved, from the raw (not only the stored) points."""

    charge_C: float = 0.0  # charge passed with I > 0
    discharge_C: float = 0.0  # charge passed with I < 0, as a positive number
    charge_J: float = 0.0
    discharge_J: float = 0.0
    last_Q: float = 0.0
    last_V: float | None = None
    elapsed_s: float = 0.0
    first_seq: int | None = None
    last_seq: int | None = None

    def add(self, block: np.ndarray) -> None:
        Q = block["Q"]
        V = block["V"]
        dQ = np.diff(Q, prepend=self.last_Q)
        V_prev = np.concatenate(([self.last_V if self.last_V is not None else V[0]], V[:-1]))
        dE = 0.5 * (V + V_prev) * dQ
        up = dQ > 0
        self.charge_C += float(dQ[up].sum())
        self.discharge_C -= float(dQ[~up].sum())
        self.charge_J += float(dE[up].sum())
        self.discharge_J -= float(dE[~up].sum())
        self.last_Q = float(Q[-1])
        self.last_V = float(V[-1])
        self.elapsed_s = float(block["t"][-1])


@dataclass(slots=True)
class _StepEnd:
    reason: str
    run_status: str | None = None  # set when the step's end also ends the run


@dataclass(slots=True)
class _Entry:
    """A step entered part-way: after a pause, or on resume from a checkpoint."""

    t_start: float  # run time at which the step began
    elapsed_s: float = 0.0
    charge_C: float = 0.0
    row: StepRecord | None = None  # the step's row as stored: its tallies so far
    reattach: bool = False  # the instrument may still be running it on board


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
        self.seq = self._resume.start_seq if self._resume else 0
        self.impedance_seq = self._resume.start_impedance_seq if self._resume else 0
        if self.start_seq is not None:
            self.seq = self.start_seq
        self.run_time_s = 0.0
        self.steps_run = 0
        self._chamber_silent_since: float | None = None

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
            entry: _Entry | None = None
            if point is not None:
                skip, entry = self._resume_entry(position, point)
                if skip:
                    continue  # the checkpointed step had ended: on to the next one
                self._gap_event(position, point, entry)
                point = None
                if entry is not None and not position.step.resumable:
                    return self._interrupted(position, entry)
            elif self.steps_run == 0:
                self._event(position, "start", "info", f"run started on {self.channel.name}")
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

    # -- resuming ------------------------------------------------------------------------

    def _resume_entry(self, position: Position, point: ResumePoint) -> tuple[bool, _Entry | None]:
        """(skip this position, how to enter it) for the first position of a resumed walk."""
        cp = point.checkpoint
        entry: _Entry | None = None
        if position.key == (cp.plan_index, tuple(cp.loop_counters)):
            if position.ordinal != cp.step:
                raise ValueError(
                    f"the plan does not match the run's checkpoint: step {cp.step} is "
                    f"step {position.ordinal} of this plan"
                )
            row = point.step
            self.steps_run = position.ordinal
            if row is not None and row.end_reason is not None:
                self.run_time_s = row.t_end if row.t_end is not None else cp.step_t_start
                return True, None
            entry = _Entry(cp.step_t_start, cp.step_elapsed_s, cp.step_charge_C, row, True)
        else:  # the step after an ended one: it may have started before the interruption
            row = point.next_step
            if row is not None and row.step == position.ordinal and row.end_reason is None:
                entry = _Entry(row.t_start, row=row, reattach=True)
        sample = point.last_sample
        if sample is not None and sample.step == position.ordinal:
            if entry is None:
                entry = _Entry(self.run_time_s, reattach=True)
            if sample.t - entry.t_start > entry.elapsed_s:
                entry.elapsed_s, entry.charge_C = sample.t - entry.t_start, sample.Q
        if entry is not None:
            self.run_time_s = entry.t_start + entry.elapsed_s
        return False, entry

    def _gap_event(self, position: Position, point: ResumePoint, entry: _Entry | None) -> None:
        gap = point.gap_s
        where = (
            f"step {position.ordinal} ({position.step.name}) at {entry.elapsed_s:.1f} s"
            if entry is not None
            else f"the start of step {position.ordinal} ({position.step.name})"
        )
        length = "" if gap is None else f" after a gap of {gap:.1f} s"
        self._event(
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

    def _interrupted(self, position: Position, entry: _Entry) -> RunOutcome:
        """A step that must not be re-entered (resumable = false) ends the run here."""
        self.steps_run = position.ordinal
        self._event(
            position,
            "interrupted",
            "alarm",
            f"step {position.ordinal} ({position.step.name}) cannot be resumed after an "
            "interruption (resumable = false): the run ends here",
            t=self.run_time_s,
        )
        self._end_entry(position, entry, "interrupted")
        return self._outcome("interrupted", "interrupted")

    def _end_entry(self, position: Position, entry: _Entry, reason: str) -> None:
        """End a step that was in progress when the run was interrupted, without running it."""
        tally = self._tally_for(entry)
        self.sink.step_ended(self._step_record(position, entry.t_start, tally, reason))
        self.sink.checkpoint(self._checkpoint(position, entry.t_start, tally))

    @staticmethod
    def _tally_for(entry: _Entry | None) -> StepTally:
        tally = StepTally()
        if entry is None:
            return tally
        tally.elapsed_s, tally.last_Q = entry.elapsed_s, entry.charge_C
        row = entry.row
        if row is not None:
            tally.charge_C = row.charge_Ah * C_PER_AH
            tally.discharge_C = row.discharge_Ah * C_PER_AH
            tally.charge_J = row.charge_Wh * J_PER_WH
            tally.discharge_J = row.discharge_Wh * J_PER_WH
            tally.first_seq, tally.last_seq = row.first_seq, row.last_seq
        return tally

    # -- pausing -------------------------------------------------------------------------

    def _hold_between_steps(self, position: Position) -> _StepEnd | None:
        """A pause (or detach) due before ``position`` starts: the channel is at rest.

        Returns how the run ends (stop, detach), or None to go on with the step.
        """
        if self._control.detach_requested:
            return _StepEnd("detached", run_status=DETACHED)
        if self.stop_request.is_set():
            return None  # the step starts and is ended at once, with reason operator
        self._paused(position, self.run_time_s, f"before step {position.ordinal}")
        self._control.wait_while_paused()
        if self._control.detach_requested:
            return _StepEnd("detached", run_status=DETACHED)
        if self.stop_request.is_set():
            self._event(position, "operator", "info", self._by("stopped", "stop"))
            return _StepEnd("operator", run_status="stopped")
        self._resumed(position, self.run_time_s)
        return None

    def _paused(self, position: Position, t: float, where: str) -> None:
        self._event(position, "operator", "info", f"{self._by('paused', 'pause')} {where}", t=t)
        if self.on_state is not None:
            self.on_state("paused")

    def _resumed(self, position: Position, t: float) -> None:
        self._event(position, "operator", "info", self._by("resumed", "resume"), t=t)
        if self.on_state is not None:
            self.on_state("running")

    def _by(self, what: str, kind: str) -> str:
        who = self._control.requested_by.get(kind)
        return f"{what} by {who}" if who else f"{what} by the operator"

    def _run_step(self, position: Position, entry: _Entry | None = None) -> _StepEnd:
        step = position.step
        native = self.channel.capabilities.native_end_conditions
        stability: StabilityWatch | None = None
        channel_step = step
        if step.chamber is not None:
            # the channel rests at open circuit while the chamber settles; the step ends
            # when the temperature is stable, or on the timeout
            if self.chamber is None:
                raise RuntimeError(
                    f"step {step.name!r} needs a temperature chamber; none is set up"
                )
            stability = StabilityWatch(step.chamber)
            channel_step = dataclasses.replace(
                step, kind="rest", ends=(EndCondition("time", step.chamber.timeout_s),)
            )
        host = HostConditions(tuple(c for c in channel_step.ends if c.kind not in native))
        recorder = Recorder(_criteria(step, self.plan))
        tally = self._tally_for(entry)
        t_start = self.run_time_s if entry is None else entry.t_start
        self.safety.reset()
        self.steps_run = position.ordinal
        self.sink.step_started(self._step_record(position, t_start, tally, None))
        progress = StepProgress(tally.elapsed_s, tally.last_Q)
        reattached = (
            entry is not None
            and entry.reattach
            and isinstance(self.channel, Reattachable)
            and self.channel.reattach(channel_step, progress)
        )
        virtual = self.channel.capabilities.virtual_time
        on_board = not host and not virtual  # the instrument ends this step itself
        chamber_due: float | None = None  # a set point the chamber has not acknowledged
        if stability is not None:
            chamber_due = self._set_chamber(position, stability.setpoint_K, None)
        started: _StepEnd | None = None  # how the step ended before it could start
        if not reattached:
            started = self._start(position, channel_step, t_start, tally, progress)
            if started is not None and started.run_status == DETACHED:
                return self._detach(position, t_start, tally)
        # a step re-entered part-way never stores a point at or before where it was
        floor = tally.elapsed_s if entry is not None else None
        faults_in_a_row = 0
        outage_since: float | None = None  # on board: when the instrument stopped answering
        last_checkpoint = self.clock()
        last_data = self.clock()
        silence_reported = False
        stopping: str | None = None  # "pause" / "detach": the channel was stopped for it
        end: _StepEnd | None = started
        while end is None:
            self._control.beat()
            if chamber_due is not None and stability is not None:
                chamber_due = self._set_chamber(position, stability.setpoint_K, chamber_due)
            if self.stop_request.is_set():
                self._stop_channel(position, t_start, tally)
                end = _StepEnd("operator", run_status="stopped")
                self._event(
                    position,
                    "operator",
                    "info",
                    self._by("stopped", "stop"),
                    t=t_start + tally.elapsed_s,
                )
                # the points up to the stop are still to be read below
            elif stopping is None and self._control.detach_requested:
                if not host and not virtual:
                    # the instrument ends this step on board: leave it running
                    return self._detach(position, t_start, tally)
                # host-sequenced: bring the cell to rest first
                end = self._stop_channel(position, t_start, tally)
                stopping = "detach"
            elif stopping is None and self._control.pause_requested and step.resumable:
                end = self._stop_channel(position, t_start, tally)
                stopping = "pause"
            try:
                samples = self.channel.read()
            except InstrumentFault as fault:
                t_fault = t_start + tally.elapsed_s
                faults_in_a_row += 1
                if end is not None:  # the step has ended: only the safe state is left to reach
                    if end.reason == LOST:
                        pass  # waited for it already
                    elif fault.link_lost:
                        self._ride_out(position, fault, t_start, tally, pausing=False)
                    else:
                        self._fault_event(position, fault, "warning", t_fault, "")
                    break
                if on_board:
                    if outage_since is None:
                        outage_since = self.clock()
                        self._fault_event(
                            position, fault, "alarm", t_fault,
                            "the step goes on on board; waiting for the link "
                            f"(up to {self.instrument_lost_after_s:g} s)",
                        )  # fmt: skip
                    elif self.clock() - outage_since >= self.instrument_lost_after_s:
                        end = self._lost(position, fault, t_fault, self.clock() - outage_since)
                        break
                    self._control.sleep(self.poll_interval_s)
                    continue
                if not fault.link_lost and faults_in_a_row < self.soft_fault_limit:
                    self._fault_event(position, fault, "warning", t_fault, "the step goes on")
                    if not virtual:
                        self._control.sleep(self.poll_interval_s)
                    continue
                if stopping is not None:  # the channel was being stopped for a pause/detach
                    stopping = None
                    if self._control.detach_requested:
                        return self._detach(position, t_start, tally)
                back = self._ride_out(position, fault, t_start, tally)
                if back is None:
                    back = self._reenter(position, channel_step, t_start, tally)
                if back is not None:
                    if back.run_status == DETACHED:
                        return self._detach(position, t_start, tally)
                    end = back
                    break
                if stability is not None:
                    stability = StabilityWatch(step.chamber) if step.chamber else stability
                faults_in_a_row = 0
                floor = tally.elapsed_s
                last_data, silence_reported = self.clock(), False
                continue
            faults_in_a_row = 0
            if outage_since is not None:
                self._back(position, t_start + tally.elapsed_s, self.clock() - outage_since)
                outage_since = None
            block = samples.points
            if floor is not None and len(block):
                block = block[block["t"] > floor + 1e-9]
            now = self.clock()
            if samples.impedance is not None and len(samples.impedance):
                self._store_impedance(position, t_start, samples.impedance)
            if len(block):
                last_data, silence_reported = now, False
                if stability is not None:
                    block = self._with_chamber_temperature(position, block)
                block, found = self._screen(position, block, host)
                if stability is not None and found is None:
                    hit = stability.first_stable(block["t"], block["T"])
                    if hit is not None:
                        block, found = block[: hit + 1], _StepEnd(STABLE)
                if found is not None and end is None:
                    end = found
                self._store(
                    position,
                    recorder,
                    tally,
                    t_start,
                    block,
                    ended=end is not None or samples.ended,
                )
            elif not virtual and now - last_data >= self.silence_alarm_s and not silence_reported:
                silence_reported = True
                self._event(
                    position,
                    "silence",
                    "alarm",
                    f"no data from {self.channel.name} for {now - last_data:.1f} s",
                )
            if end is None and samples.ended and stopping is not None and not samples.end_reason:
                # the channel stopped because we asked it to: this is not the step's end
                if stopping == "detach":
                    return self._detach(position, t_start, tally)
                self._save_progress(position, t_start, tally)
                self.run_time_s = t_start + tally.elapsed_s
                self._paused(position, self.run_time_s, f"in step {position.ordinal}")
                self._control.wait_while_paused()
                if self._control.detach_requested:
                    return self._detach(position, t_start, tally)
                stopping = None
                if self.stop_request.is_set():
                    continue  # ended above, with reason operator, on the next pass
                self._resumed(position, self.run_time_s)
                if step.chamber is not None:
                    stability = StabilityWatch(step.chamber)  # a fresh soak after the pause
                again = self._start(
                    position, channel_step, t_start, tally,
                    StepProgress(tally.elapsed_s, tally.last_Q),
                )  # fmt: skip
                if again is not None:
                    if again.run_status == DETACHED:
                        return self._detach(position, t_start, tally)
                    end = again
                    break
                floor = tally.elapsed_s
                last_data, silence_reported = self.clock(), False
                continue
            if end is None and samples.ended:
                reason = samples.end_reason or "instrument"
                end = _StepEnd(TIMEOUT if stability is not None and reason == "time" else reason)
            if end is not None and not samples.ended and end.reason not in ("operator", LOST):
                # the host ended the step (safety, a host condition): stop the instrument now;
                # points it measured after the end point are not part of this step
                self._stop_channel(position, t_start, tally)
            if end is None:
                if len(block) and (
                    not virtual or now - last_checkpoint >= self.checkpoint_interval_s
                ):
                    self._save_progress(position, t_start, tally)
                    last_checkpoint = now
                if not virtual:
                    self._control.sleep(self.poll_interval_s)
        self.run_time_s = t_start + tally.elapsed_s
        if end.reason == TIMEOUT and step.chamber is not None and stability is not None:
            self._event(
                position,
                "chamber",
                "alarm",
                f"chamber not stable within ±{step.chamber.tolerance_K:g} K of "
                f"{stability.setpoint_K - 273.15:.1f} °C after "
                f"{step.chamber.timeout_s / 3600:g} h",
                t=self.run_time_s,
            )
        if end.reason == "short":
            self._event(
                position,
                "short",
                "alarm",
                f"short detected at {self.run_time_s / 3600:.3f} h (cycle {position.cycle})",
                t=self.run_time_s,
            )
        record = self._step_record(position, t_start, tally, end.reason)
        self.sink.step_ended(record)
        self.sink.checkpoint(self._checkpoint(position, t_start, tally))
        if self.on_step_end is not None:
            self.on_step_end(position, record)
        return end

    # -- instrument faults -----------------------------------------------------------------

    def _start(
        self,
        position: Position,
        step: Step,
        t_start: float,
        tally: StepTally,
        progress: StepProgress,
    ) -> _StepEnd | None:
        """Start (or restart) the step on the channel, riding out a lost instrument; None
        when it runs, else how the run ends. A refusal repeated ``soft_fault_limit`` times
        is not transient: it is raised (the run fails with it)."""
        refusals = 0
        while True:
            try:
                self.channel.start_step(step, progress)
                return None
            except InstrumentFault as fault:
                if not fault.link_lost:
                    refusals += 1
                    if refusals >= self.soft_fault_limit:
                        raise
                end = self._ride_out(position, fault, t_start, tally)
                if end is not None:
                    return end

    def _reenter(
        self, position: Position, step: Step, t_start: float, tally: StepTally
    ) -> _StepEnd | None:
        """The instrument is back with the cell at rest: the step goes on where it was."""
        if not position.step.resumable:
            self._event(
                position,
                "interrupted",
                "alarm",
                f"step {position.ordinal} ({position.step.name}) cannot be resumed after "
                "the instrument was lost (resumable = false): the run ends here",
                t=t_start + tally.elapsed_s,
            )
            return _StepEnd("interrupted", run_status="interrupted")
        return self._start(
            position, step, t_start, tally, StepProgress(tally.elapsed_s, tally.last_Q)
        )

    def _ride_out(
        self,
        position: Position,
        fault: InstrumentFault,
        t_start: float,
        tally: StepTally,
        *,
        pausing: bool = True,
    ) -> _StepEnd | None:
        """A host-sequenced channel's instrument is lost (or makes no sense): pause, and put
        the cell at rest as soon as the instrument answers. None when it has (the run goes
        on), else how the run ends: ``instrument:lost`` after ``instrument_lost_after_s``,
        the operator's stop, or a detach."""
        t = t_start + tally.elapsed_s
        self.run_time_s = t
        self._save_progress(position, t_start, tally)
        limit = self.instrument_lost_after_s
        self._fault_event(
            position, fault, "alarm", t,
            f"the run pauses; {self.channel.name} is put at rest as soon as it answers "
            f"(the run ends if it does not within {limit:g} s)" if pausing
            else f"putting {self.channel.name} at rest as soon as it answers",
        )  # fmt: skip
        if pausing and self.on_state is not None:
            self.on_state("paused")
        lost_at = self.clock()
        last = fault
        while True:
            self._control.beat()
            try:
                self.channel.stop()  # the safe state: output off, the cell at open circuit
                break
            except InstrumentFault as again:
                last = again
            away = self.clock() - lost_at
            if pausing and self.stop_request.is_set():
                self._event(
                    position, "operator", "info",
                    f"{self._by('stopped', 'stop')} while {self.channel.name} was out of reach",
                    t=t,
                )  # fmt: skip
                return _StepEnd("operator", run_status="stopped")
            if pausing and self._control.detach_requested:
                if self.on_state is not None:
                    self.on_state("running")  # the next daemon picks it up and goes on
                return _StepEnd("detached", run_status=DETACHED)
            if away >= limit:
                return self._lost(position, last, t, away)
            self._control.sleep(min(self.poll_interval_s, limit - away))
        self._back(position, t, self.clock() - lost_at, at_rest=True)
        if pausing and self.on_state is not None:
            self.on_state("running")
        return None

    def _lost(
        self, position: Position, fault: InstrumentFault, t: float, away_s: float
    ) -> _StepEnd:
        self._fault_event(
            position, fault, "alarm", t,
            f"no answer for {away_s:.1f} s: the run ends (instrument:lost)",
        )  # fmt: skip
        return _StepEnd(LOST, run_status="failed")

    def _back(self, position: Position, t: float, gap_s: float, *, at_rest: bool = False) -> None:
        what = "the cell was put at rest; the step goes on" if at_rest else "data flows again"
        self._event(
            position,
            "gap",
            "warning",
            f"{self.channel.name} answered again after {gap_s:.1f} s: {what} "
            f"(from {t:.1f} s of the run)",
            t=t,
            data={"gap_s": gap_s, "cause": "instrument"},
        )

    def _fault_event(
        self, position: Position, fault: InstrumentFault, severity: str, t: float, then: str
    ) -> None:
        self._event(
            position,
            "instrument",
            severity,
            f"{fault}; {then}" if then else str(fault),
            t=t,
            data={
                "instrument": fault.instrument,
                "command": fault.command,
                "detail": fault.detail,
                "link_lost": fault.link_lost,
            },
        )

    def _stop_channel(
        self, position: Position, t_start: float, tally: StepTally
    ) -> _StepEnd | None:
        """Stop the channel (output off, the cell at rest). If the instrument does not do it,
        ask again every poll until it does; None once it has, else ``instrument:lost``."""
        try:
            self.channel.stop()
        except InstrumentFault as fault:
            return self._ride_out(position, fault, t_start, tally, pausing=False)
        return None

    def _set_chamber(
        self, position: Position, setpoint_K: float, due: float | None
    ) -> float | None:
        """Send the set point; None once acknowledged, else when it was first due."""
        assert self.chamber is not None
        try:
            self.chamber.set_temperature(setpoint_K)
        except InstrumentFault as fault:
            if due is None:
                self._fault_event(
                    position, fault, "alarm", self.run_time_s,
                    "the set point is sent again every poll; the step waits for it",
                )  # fmt: skip
                return self.clock()
            return due
        if due is not None:
            self._back(position, self.run_time_s, self.clock() - due)
        return None

    def _save_progress(self, position: Position, t_start: float, tally: StepTally) -> None:
        """The running step's row (its tallies so far) and a checkpoint, behind its samples."""
        self.sink.step_started(self._step_record(position, t_start, tally, None))
        self.sink.checkpoint(self._checkpoint(position, t_start, tally))

    def _detach(self, position: Position, t_start: float, tally: StepTally) -> _StepEnd:
        """Leave the step as it is for the next daemon: its progress is checkpointed."""
        self._save_progress(position, t_start, tally)
        self.run_time_s = t_start + tally.elapsed_s
        return _StepEnd("detached", run_status=DETACHED)

    def _screen(
        self, position: Position, block: np.ndarray, host: HostConditions
    ) -> tuple[np.ndarray, _StepEnd | None]:
        """Safety first, then host end conditions; cut the block at what ends the step."""
        breach = self.safety.check(block)
        hit = host.first_hit(block)
        if breach is not None and (hit is None or breach.index <= hit.index):
            self._event(
                position,
                "safety",
                "alarm",
                breach.describe(),
                t=self.run_time_s + float(block["t"][breach.index]),
                data={
                    "limit": breach.limit.quantity,
                    "value": breach.limit.value,
                    "measured": breach.measured,
                },
            )
            return block[: breach.index + 1], _StepEnd(breach.reason, run_status="safety_stop")
        if hit is not None:
            return block[: hit.index + 1], _StepEnd(hit.reason)
        return block, None

    def _store(
        self,
        position: Position,
        recorder: Recorder,
        tally: StepTally,
        t_start: float,
        block: np.ndarray,
        *,
        ended: bool,
    ) -> None:
        tally.add(block)
        keep = recorder.select(block, step_ended=ended)
        if keep.size == 0:
            return
        chosen = block[keep]
        rows = np.empty(len(chosen), dtype=SAMPLE_ROW_DTYPE)
        rows["seq"] = np.arange(self.seq + 1, self.seq + 1 + len(chosen))
        rows["t"] = t_start + chosen["t"]
        for name in ("V", "I", "Q", "T"):
            rows[name] = chosen[name]
        rows["step"] = position.ordinal
        rows["cycle"] = position.cycle
        if tally.first_seq is None:
            tally.first_seq = self.seq + 1
        self.seq += len(chosen)
        tally.last_seq = self.seq
        self.sink.append_samples(rows)

    def _with_chamber_temperature(self, position: Position, block: np.ndarray) -> np.ndarray:
        """Fill the T column from the chamber where the instrument measured none (left
        unknown while the chamber does not answer: a soak cannot complete on it)."""
        missing = np.isnan(block["T"])
        if missing.any() and self.chamber is not None:
            try:
                reading = self.chamber.read()
            except InstrumentFault as fault:
                if self._chamber_silent_since is None:
                    self._chamber_silent_since = self.clock()
                    self._fault_event(
                        position, fault, "alarm", self.run_time_s + float(block["t"][0]),
                        "no chamber temperature until it answers; the soak waits",
                    )  # fmt: skip
                return block
            if self._chamber_silent_since is not None:
                gap = self.clock() - self._chamber_silent_since
                self._chamber_silent_since = None
                self._back(position, self.run_time_s + float(block["t"][0]), gap)
            block = block.copy()
            block["T"][missing] = reading.temperature_K
        return block

    def _store_impedance(self, position: Position, t_start: float, points: np.ndarray) -> None:
        rows = np.empty(len(points), dtype=IMPEDANCE_ROW_DTYPE)
        rows["seq"] = np.arange(self.impedance_seq + 1, self.impedance_seq + 1 + len(points))
        rows["step"] = position.ordinal
        for name in ("f", "Zre", "Zim", "V_dc", "T"):
            rows[name] = points[name]
        rows["t"] = t_start + points["t"]
        self.impedance_seq += len(points)
        self.sink.append_impedance(rows)

    # -- records -------------------------------------------------------------------------

    def _step_record(
        self, position: Position, t_start: float, tally: StepTally, reason: str | None
    ) -> StepRecord:
        step = position.step
        return StepRecord(
            step=position.ordinal,
            plan_index=step.index,
            name=step.name,
            kind=step.kind,
            cycle=position.cycle,
            loop_counters=list(position.counters),
            t_start=t_start,
            t_end=None if reason is None else t_start + tally.elapsed_s,
            end_reason=reason,
            charge_Ah=tally.charge_C / C_PER_AH,
            discharge_Ah=tally.discharge_C / C_PER_AH,
            # |∫V dQ|: with a symmetric or Li‖Cu cell V changes sign, and energy is a magnitude
            charge_Wh=abs(tally.charge_J) / J_PER_WH,
            discharge_Wh=abs(tally.discharge_J) / J_PER_WH,
            first_seq=tally.first_seq,
            last_seq=tally.last_seq,
        )

    def _checkpoint(self, position: Position, t_start: float, tally: StepTally) -> Checkpoint:
        return Checkpoint(
            step=position.ordinal,
            plan_index=position.step.index,
            loop_counters=list(position.counters),
            cycle=position.cycle,
            step_elapsed_s=tally.elapsed_s,
            step_charge_C=tally.last_Q,
            step_t_start=t_start,
            last_seq=self.seq,
            last_impedance_seq=self.impedance_seq,
        )

    def _event(
        self,
        position: Position,
        kind: str,
        severity: str,
        message: str,
        *,
        t: float | None = None,  # run time s; default: the start of the current step
        data: dict[str, object] | None = None,
    ) -> None:
        self.sink.event(
            EventRecord(
                t=self.run_time_s if t is None else t,
                kind=kind,
                severity=severity,
                message=message,
                data={"step": position.ordinal, "cycle": position.cycle, **(data or {})},
            )
        )


def _criteria(step: Step, plan: Plan) -> RecordCriteria:
    return step.record if _any(step.record) else plan.record


def _any(criteria: RecordCriteria) -> bool:
    return any(v is not None for v in (criteria.every_s, criteria.delta_V, criteria.delta_I))
