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

A lost or misbehaving instrument or chamber is met by its :class:`InstrumentWatch`
(:mod:`cyclerctl.engine.outage`): it records the fault, waits for the instrument and puts
the cell at rest, and says how the step goes on or how the run ends.

A runner given a :class:`ResumePoint` re-enters the checkpointed step, or the
one after it when that step had ended, and never replays a finished step.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import numpy as np

from cyclerctl.drivers.base import Chamber, Channel, InstrumentFault
from cyclerctl.engine.chamber import STABLE, TIMEOUT, StabilityWatch
from cyclerctl.engine.conditions import HostConditions
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.ending import DETACHED as DETACHED  # the daemon's session reads it here
from cyclerctl.engine.ending import StepEnd
from cyclerctl.engine.outage import LOST, InstrumentWatch
from cyclerctl.engine.program import Position, positions, positions_from
from cyclerctl.engine.reattach import Reattachable
from cyclerctl.engine.recording import Recorder
from cyclerctl.engine.resume import ResumePoint
from cyclerctl.engine.safety import SafetyMonitor, combine
from cyclerctl.engine.tally import StepTally, step_record
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


class RunSink(Protocol):
    """Where a running channel's data goes (the store's RunWriter in production)."""

    def append_samples(self, block: np.ndarray) -> None: ...
    def append_impedance(self, block: np.ndarray) -> None: ...
    def step_started(self, record: StepRecord) -> None: ...
    def step_ended(self, record: StepRecord) -> None: ...
    def event(self, record: EventRecord) -> None: ...
    def checkpoint(self, record: Checkpoint) -> None: ...


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # completed | safety_stop | stopped | failed | interrupted | detached
    end_reason: str | None
    steps_run: int
    points_stored: int
    run_time_s: float


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
        self.watch = InstrumentWatch(
            channel=self.channel,
            chamber=self.chamber,
            control=self._control,
            event=self._event,
            on_state=self.on_state,
            clock=self.clock,
            poll_interval_s=self.poll_interval_s,
            lost_after_s=self.instrument_lost_after_s,
            soft_fault_limit=self.soft_fault_limit,
        )

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
        self._save_step(position, entry.t_start, self._tally_for(entry), reason)

    @staticmethod
    def _tally_for(entry: _Entry | None) -> StepTally:
        if entry is None:
            return StepTally()
        return StepTally.carried_on(entry.elapsed_s, entry.charge_C, entry.row)

    # -- pausing -------------------------------------------------------------------------

    def _hold_between_steps(self, position: Position) -> StepEnd | None:
        """A pause (or detach) due before ``position`` starts: the channel is at rest.

        Returns how the run ends (stop, detach), or None to go on with the step.
        """
        if self._control.detach_requested:
            return StepEnd.detached()
        if self.stop_request.is_set():
            return None  # the step starts and is ended at once, with reason operator
        self._paused(position, self.run_time_s, f"before step {position.ordinal}")
        self._control.wait_while_paused()
        if self._control.detach_requested:
            return StepEnd.detached()
        if self.stop_request.is_set():
            self._event(position, "operator", "info", self._control.said_by("stopped", "stop"))
            return StepEnd.stopped()
        self._resumed(position, self.run_time_s)
        return None

    def _paused(self, position: Position, t: float, where: str) -> None:
        said = self._control.said_by("paused", "pause")
        self._event(position, "operator", "info", f"{said} {where}", t=t)
        if self.on_state is not None:
            self.on_state("paused")

    def _resumed(self, position: Position, t: float) -> None:
        self._event(position, "operator", "info", self._control.said_by("resumed", "resume"), t=t)
        if self.on_state is not None:
            self.on_state("running")

    def _run_step(self, position: Position, entry: _Entry | None = None) -> StepEnd:
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
        self.sink.step_started(step_record(position, t_start, tally, None))
        self.watch.enter(position, partial(self._hold, position, t_start, tally))
        progress = tally.progress()
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
            chamber_due = self.watch.send_setpoint(stability.setpoint_K, None, self.run_time_s)
        end: StepEnd | None = None
        if not reattached:
            end = self.watch.start(channel_step, progress)  # not None: it could not start
        # a step re-entered part-way never stores a point at or before where it was
        floor = tally.elapsed_s if entry is not None else None
        last_checkpoint = self.clock()
        last_data = self.clock()
        silence_reported = False
        stopping: str | None = None  # "pause" / "detach": the channel was stopped for it
        while end is None:
            self._control.beat()
            if chamber_due is not None and stability is not None:
                chamber_due = self.watch.send_setpoint(
                    stability.setpoint_K, chamber_due, self.run_time_s
                )
            if self.stop_request.is_set():
                self.watch.stop()
                end = StepEnd.stopped()
                self._event(
                    position,
                    "operator",
                    "info",
                    self._control.said_by("stopped", "stop"),
                    t=t_start + tally.elapsed_s,
                )
                # the points up to the stop are still to be read below
            elif stopping is None and self._control.detach_requested:
                if on_board:  # leave the instrument running the step
                    end = StepEnd.detached()
                    break
                end = self.watch.stop()  # host-sequenced: bring the cell to rest first
                stopping = "detach"
            elif stopping is None and self._control.pause_requested and step.resumable:
                end = self.watch.stop()
                stopping = "pause"
            try:
                samples = self.channel.read()
            except InstrumentFault as fault:
                t_fault = t_start + tally.elapsed_s
                if end is not None:
                    self.watch.after_end(end, fault, t_fault)
                    break
                if on_board:  # the step goes on there: wait for the link
                    end = self.watch.link_down(fault, t_fault)
                    if end is None:
                        self._control.sleep(self.poll_interval_s)
                    continue
                if self.watch.bearable(fault, t_fault):  # a warning: read again
                    if not virtual:
                        self._control.sleep(self.poll_interval_s)
                    continue
                # the instrument is lost: the run pauses until the cell is at rest
                if stopping is not None:  # the channel was being stopped for a pause/detach
                    stopping = None
                    if self._control.detach_requested:
                        end = StepEnd.detached()
                        break
                end = self.watch.ride_out(fault)
                if end is None:
                    end = self.watch.reenter(channel_step, tally.progress(), t_fault)
                if end is None:  # the step goes on where it was
                    if step.chamber is not None:
                        stability = StabilityWatch(step.chamber)  # a fresh soak
                    self.watch.link_up(t_fault)
                    floor = tally.elapsed_s
                    last_data, silence_reported = self.clock(), False
                continue
            self.watch.link_up(t_start + tally.elapsed_s)
            block = samples.points
            if floor is not None and len(block):
                block = block[block["t"] > floor + 1e-9]
            now = self.clock()
            if samples.impedance is not None and len(samples.impedance):
                self._store_impedance(position, t_start, samples.impedance)
            if len(block):
                last_data, silence_reported = now, False
                if stability is not None:
                    block = self.watch.with_chamber_temperature(
                        block, t_start + float(block["t"][0])
                    )
                block, found = self._screen(position, t_start, block, host)
                if stability is not None and found is None:
                    hit = stability.first_stable(block["t"], block["T"])
                    if hit is not None:
                        block, found = block[: hit + 1], StepEnd(STABLE)
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
                    end = StepEnd.detached()
                    break
                self._hold(position, t_start, tally)
                self._paused(position, self.run_time_s, f"in step {position.ordinal}")
                self._control.wait_while_paused()
                if self._control.detach_requested:
                    end = StepEnd.detached()
                    break
                stopping = None
                if self.stop_request.is_set():
                    continue  # ended above, with reason operator, on the next pass
                self._resumed(position, self.run_time_s)
                if step.chamber is not None:
                    stability = StabilityWatch(step.chamber)  # a fresh soak after the pause
                end = self.watch.start(channel_step, tally.progress())
                if end is None:  # the step goes on where it was
                    floor = tally.elapsed_s
                    last_data, silence_reported = self.clock(), False
                continue
            if end is None and samples.ended:
                reason = samples.end_reason or "instrument"
                end = StepEnd(TIMEOUT if stability is not None and reason == "time" else reason)
            if end is not None and not samples.ended and end.reason not in ("operator", LOST):
                # the host ended the step (safety, a host condition): stop the instrument now;
                # points it measured after the end point are not part of this step
                self.watch.stop()
            if end is None:
                if len(block) and (
                    not virtual or now - last_checkpoint >= self.checkpoint_interval_s
                ):
                    self._save_step(position, t_start, tally)
                    last_checkpoint = now
                if not virtual:
                    self._control.sleep(self.poll_interval_s)
        if end.run_status == DETACHED:  # left as it is for the next daemon
            self._hold(position, t_start, tally)
            return end
        self._step_ended(position, t_start, tally, end, stability)
        return end

    def _step_ended(
        self,
        position: Position,
        t_start: float,
        tally: StepTally,
        end: StepEnd,
        stability: StabilityWatch | None,
    ) -> None:
        """Record how the step ended: an alarm for what ends a run, its final row."""
        step = position.step
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
        record = self._save_step(position, t_start, tally, end.reason)
        if self.on_step_end is not None:
            self.on_step_end(position, record)

    def _save_step(
        self, position: Position, t_start: float, tally: StepTally, reason: str | None = None
    ) -> StepRecord:
        """The step's row (running, its tallies so far; or ended with ``reason``) and a
        checkpoint, right behind its samples."""
        record = step_record(position, t_start, tally, reason)
        if reason is None:
            self.sink.step_started(record)
        else:
            self.sink.step_ended(record)
        self.sink.checkpoint(self._checkpoint(position, t_start, tally))
        return record

    def _hold(self, position: Position, t_start: float, tally: StepTally) -> float:
        """Checkpoint the running step where it is, and stand the run clock there (s)."""
        self.run_time_s = t_start + tally.elapsed_s
        self._save_step(position, t_start, tally)
        return self.run_time_s

    def _screen(
        self, position: Position, t_start: float, block: np.ndarray, host: HostConditions
    ) -> tuple[np.ndarray, StepEnd | None]:
        """Safety first, then host end conditions; cut the block at what ends the step.

        ``block["t"]`` is step time; the step began at run time ``t_start``."""
        breach = self.safety.check(block)
        hit = host.first_hit(block)
        if breach is not None and (hit is None or breach.index <= hit.index):
            self._event(
                position,
                "safety",
                "alarm",
                breach.describe(),
                t=t_start + float(block["t"][breach.index]),
                data={
                    "limit": breach.limit.quantity,
                    "value": breach.limit.value,
                    "measured": breach.measured,
                },
            )
            return block[: breach.index + 1], StepEnd(breach.reason, run_status="safety_stop")
        if hit is not None:
            return block[: hit.index + 1], StepEnd(hit.reason)
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
