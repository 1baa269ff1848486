"""One step on a channel, from its start to its recorded end.

A :class:`StepExecution` starts the step (or takes it up where the instrument still runs
it), then goes round its loop until the step ends; each pass, between two reads of the
channel (the loop's safe points):

1. control actions: the operator's stop, a pause, a detach (:meth:`_act_on_control`);
2. one read of the channel; a fault is met by the run's :class:`InstrumentWatch`
   (:meth:`_read_fault`);
3. the sample block: safety limits, then the host's end conditions and a soak's
   stability, then the record criteria choose what is stored; a channel silent for
   ``silence_alarm_s`` raises an alarm (:meth:`_sample_block`);
4. a pause inside the step: the channel stopped because it was asked to, not because the
   step ended (:meth:`_stopped_on_request`, :meth:`_pause_in_step`);
5. ending and checkpointing (:meth:`_ending`, :meth:`_checkpoint_and_wait`).

How the step ended is recorded by :meth:`_finish`: its final row, and an alarm for what
ends a run (a short, a chamber that never settled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cyclerctl.drivers.base import Chamber, Channel, InstrumentFault, Samples
from cyclerctl.engine.chamber import STABLE, TIMEOUT, StabilityWatch
from cyclerctl.engine.conditions import HostConditions
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.ending import DETACHED, StepEnd
from cyclerctl.engine.journal import RunJournal
from cyclerctl.engine.outage import LOST, InstrumentWatch
from cyclerctl.engine.program import Position
from cyclerctl.engine.reattach import Reattachable
from cyclerctl.engine.recording import Recorder
from cyclerctl.engine.safety import SafetyMonitor
from cyclerctl.engine.tally import StepTally
from cyclerctl.plan import EndCondition, RecordCriteria, Step
from cyclerctl.store import StepRecord


@dataclass(slots=True)
class StepEntry:
    """A step entered part-way: after a pause, or on resume from a checkpoint."""

    t_start: float  # run time at which the step began
    elapsed_s: float = 0.0
    charge_C: float = 0.0
    row: StepRecord | None = None  # the step's row as stored: its tallies so far
    reattach: bool = False  # the instrument may still be running it on board

    def tally(self) -> StepTally:
        """The step's tallies so far, to go on from."""
        return StepTally.carried_on(self.elapsed_s, self.charge_C, self.row)


@dataclass(frozen=True, slots=True)
class Pacing:
    """How often a running step is read, checkpointed, and found silent (s)."""

    poll_interval_s: float
    checkpoint_interval_s: float  # in virtual time; in real time after every block
    silence_alarm_s: float  # real time only: no data for this long raises an alarm


@dataclass(eq=False)
class StepExecution:
    """One step at ``position`` on ``channel``, entered afresh or part-way (``entry``)."""

    position: Position
    entry: StepEntry | None
    channel: Channel
    chamber: Chamber | None
    record: RecordCriteria  # the record criteria that apply to this step
    control: RunControl
    watch: InstrumentWatch
    journal: RunJournal
    safety: SafetyMonitor
    pacing: Pacing
    clock: Callable[[], float]
    on_step_end: Callable[[Position, StepRecord], None] | None = None

    # -- the step as it is run (fixed once set up) ---------------------------------------
    step: Step = field(init=False)
    channel_step: Step = field(init=False)  # a chamber step: the channel rests meanwhile
    host: HostConditions = field(init=False)  # end conditions the channel cannot evaluate
    recorder: Recorder = field(init=False)
    t_start: float = field(init=False)  # run time at which the step began (s)
    virtual: bool = field(init=False)  # the channel runs on a virtual clock
    on_board: bool = field(init=False)  # the instrument ends this step itself

    # -- what changes as it runs ---------------------------------------------------------
    tally: StepTally = field(init=False)  # the step's time, charge and energy so far
    stability: StabilityWatch | None = field(init=False, default=None)  # a chamber's soak
    chamber_due: float | None = field(init=False, default=None)  # set point not acknowledged
    end: StepEnd | None = field(init=False, default=None)  # how the step ends, once known
    floor: float | None = field(init=False, default=None)  # no point at or before (step s)
    last_checkpoint: float = field(init=False, default=0.0)  # clock() of the last checkpoint
    last_data: float = field(init=False, default=0.0)  # clock() of the last points read
    silence_reported: bool = field(init=False, default=False)
    stopping: str | None = field(init=False, default=None)  # "pause" / "detach": asked of it

    def __post_init__(self) -> None:
        step = self.step = self.position.step
        self.channel_step = step
        if step.chamber is not None:
            # the channel rests at open circuit while the chamber settles; the step ends
            # when the temperature is stable, or on the timeout
            if self.chamber is None:
                raise RuntimeError(
                    f"step {step.name!r} needs a temperature chamber; none is set up"
                )
            self.stability = StabilityWatch(step.chamber)
            self.channel_step = dataclasses.replace(
                step, kind="rest", ends=(EndCondition("time", step.chamber.timeout_s),)
            )
        capabilities = self.channel.capabilities
        native = capabilities.native_end_conditions
        self.host = HostConditions(tuple(c for c in self.channel_step.ends if c.kind not in native))
        self.recorder = Recorder(self.record)
        self.tally = StepTally() if self.entry is None else self.entry.tally()
        self.t_start = self.journal.run_time_s if self.entry is None else self.entry.t_start
        self.virtual = capabilities.virtual_time
        self.on_board = not self.host and not self.virtual

    def run(self) -> StepEnd:
        """Run the step to its end and record it; a detached step is left checkpointed
        where it is, for the next daemon."""
        self._begin()
        while self.end is None:
            self._go_round()
        return self._finish(self.end)

    # -- starting ------------------------------------------------------------------------

    def _begin(self) -> None:
        """The step's row, the chamber's set point, and the step started on the channel
        (unless the instrument is still running it on board: reattached)."""
        self.safety.reset()
        self.journal.step_started(self.position, self.t_start, self.tally)
        self.watch.enter(self.position, self._hold)
        progress = self.tally.progress()
        entry, channel = self.entry, self.channel
        reattached = (
            entry is not None
            and entry.reattach
            and isinstance(channel, Reattachable)
            and channel.reattach(self.channel_step, progress)
        )
        if self.stability is not None:
            self.chamber_due = self.watch.send_setpoint(
                self.stability.setpoint_K, None, self.journal.run_time_s
            )
        if not reattached:
            self.end = self.watch.start(self.channel_step, progress)  # not None: not started
        # a step re-entered part-way never stores a point at or before where it was
        self.floor = self.tally.elapsed_s if entry is not None else None
        self.last_checkpoint = self.clock()
        self.last_data = self.clock()

    # -- one pass of the loop ------------------------------------------------------------

    def _go_round(self) -> None:
        """One pass between two safe points: act on requests, read, handle what was read."""
        self.control.beat()
        self._resend_setpoint()
        if not self._act_on_control():
            return
        try:
            samples = self.channel.read()
        except InstrumentFault as fault:
            self._read_fault(fault)
            return
        self.watch.link_up(self._step_now())
        now = self.clock()
        got_points = self._sample_block(samples, now)
        if self._stopped_on_request(samples):
            return
        self._ending(samples)
        if self.end is None:
            self._checkpoint_and_wait(got_points, now)

    def _resend_setpoint(self) -> None:
        """A set point the chamber has not acknowledged is sent again every pass."""
        if self.chamber_due is not None and self.stability is not None:
            self.chamber_due = self.watch.send_setpoint(
                self.stability.setpoint_K, self.chamber_due, self.journal.run_time_s
            )

    def _act_on_control(self) -> bool:
        """The operator's stop, a detach or a pause, acted on at this safe point. False
        when the pass ends here (a step on board left running for the next daemon)."""
        control = self.control
        if control.stop_requested:
            self.watch.stop()
            self.end = StepEnd.stopped()
            self.journal.stopped(self.position, t=self._step_now())
            # the points up to the stop are still to be read
        elif self.stopping is None and control.detach_requested:
            if self.on_board:  # leave the instrument running the step
                self.end = StepEnd.detached()
                return False
            self.end = self.watch.stop()  # host-sequenced: bring the cell to rest first
            self.stopping = "detach"
        elif self.stopping is None and control.pause_requested and self.step.resumable:
            self.end = self.watch.stop()
            self.stopping = "pause"
        return True

    # -- read faults ---------------------------------------------------------------------

    def _read_fault(self, fault: InstrumentFault) -> None:
        """A read failed: after the end, on board, bearable (read again), or lost."""
        t_fault = self._step_now()
        if self.end is not None:
            self.watch.after_end(self.end, fault, t_fault)
            return
        if self.on_board:  # the step goes on there: wait for the link
            self.end = self.watch.link_down(fault, t_fault)
            if self.end is None:
                self.control.sleep(self.pacing.poll_interval_s)
            return
        if self.watch.bearable(fault, t_fault):  # a warning: read again
            if not self.virtual:
                self.control.sleep(self.pacing.poll_interval_s)
            return
        self._instrument_lost(fault, t_fault)

    def _instrument_lost(self, fault: InstrumentFault, t_fault: float) -> None:
        """The instrument of a host-sequenced step is lost: the run pauses until the cell
        is at rest, then the step goes on where it was (or the run ends)."""
        if self.stopping is not None:  # the channel was being stopped for a pause/detach
            self.stopping = None
            if self.control.detach_requested:
                self.end = StepEnd.detached()
                return
        self.end = self.watch.ride_out(fault)
        if self.end is None:
            self.end = self.watch.reenter(self.channel_step, self.tally.progress(), t_fault)
        if self.end is None:  # the step goes on where it was
            self._fresh_soak()
            self.watch.link_up(t_fault)
            self._going_on()

    # -- the sample block ----------------------------------------------------------------

    def _sample_block(self, samples: Samples, now: float) -> bool:
        """Screen and store the new points (and impedance); True when there were any.
        What ends the step (safety, a host condition, a stable soak) cuts the block."""
        block = samples.points
        if self.floor is not None and len(block):
            block = block[block["t"] > self.floor + 1e-9]
        if samples.impedance is not None and len(samples.impedance):
            self.journal.append_impedance(self.position, self.t_start, samples.impedance)
        if not len(block):
            self._silence_alarm(now)
            return False
        self.last_data, self.silence_reported = now, False
        if self.stability is not None:
            block = self.watch.with_chamber_temperature(block, self.t_start + float(block["t"][0]))
        block, found = self._screen(block)
        if self.stability is not None and found is None:
            hit = self.stability.first_stable(block["t"], block["T"])
            if hit is not None:
                block, found = block[: hit + 1], StepEnd(STABLE)
        if found is not None and self.end is None:
            self.end = found
        self._store(block, ended=self.end is not None or samples.ended)
        return True

    def _silence_alarm(self, now: float) -> None:
        """No data for ``silence_alarm_s`` of real time: one alarm until data flows again."""
        silent_s = now - self.last_data
        if self.virtual or silent_s < self.pacing.silence_alarm_s or self.silence_reported:
            return
        self.silence_reported = True
        self.journal.event(
            self.position,
            "silence",
            "alarm",
            f"no data from {self.channel.name} for {silent_s:.1f} s",
        )

    def _screen(self, block: np.ndarray) -> tuple[np.ndarray, StepEnd | None]:
        """Safety first, then host end conditions; cut the block at what ends the step.

        ``block["t"]`` is step time; the step began at run time ``t_start``."""
        breach = self.safety.check(block)
        hit = self.host.first_hit(block)
        if breach is not None and (hit is None or breach.index <= hit.index):
            self.journal.event(
                self.position,
                "safety",
                "alarm",
                breach.describe(),
                t=self.t_start + float(block["t"][breach.index]),
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

    def _store(self, block: np.ndarray, *, ended: bool) -> None:
        """Every point counts in the tally; the record criteria choose what is stored."""
        self.tally.add(block)
        keep = self.recorder.select(block, step_ended=ended)
        if keep.size == 0:
            return
        self.journal.append_samples(self.position, self.t_start, self.tally, block[keep])

    # -- pausing inside the step ---------------------------------------------------------

    def _stopped_on_request(self, samples: Samples) -> bool:
        """True when the channel stopped because it was asked to (a pause or a detach):
        not the step's end. The pass ends here."""
        if self.end is not None or not samples.ended or samples.end_reason:
            return False
        if self.stopping is None:
            return False
        if self.stopping == "detach":
            self.end = StepEnd.detached()
        else:
            self._pause_in_step()
        return True

    def _pause_in_step(self) -> None:
        """The cell is at rest: checkpoint, wait for resume, and start the step again where
        it was (a chamber soaks afresh). A stop while paused ends it on the next pass."""
        self._hold()
        run_time_s = self.journal.run_time_s
        self.journal.paused(self.position, run_time_s, f"in step {self.position.ordinal}")
        self.control.wait_while_paused()
        if self.control.detach_requested:
            self.end = StepEnd.detached()
            return
        self.stopping = None
        if self.control.stop_requested:
            return  # ended by the control actions, with reason operator, on the next pass
        self.journal.resumed(self.position, self.journal.run_time_s)
        self._fresh_soak()
        self.end = self.watch.start(self.channel_step, self.tally.progress())
        if self.end is None:  # the step goes on where it was
            self._going_on()

    def _fresh_soak(self) -> None:
        """After a pause or an outage a chamber step soaks again from the start."""
        if self.step.chamber is not None:
            self.stability = StabilityWatch(self.step.chamber)

    def _going_on(self) -> None:
        """The step runs again where it was: nothing at or before this point is stored
        twice, and the silence is counted from now."""
        self.floor = self.tally.elapsed_s
        self.last_data, self.silence_reported = self.clock(), False

    # -- ending and checkpointing --------------------------------------------------------

    def _ending(self, samples: Samples) -> None:
        """The channel ended the step, or the host did (then the instrument is stopped now;
        points it measured after the end point are not part of this step)."""
        end = self.end
        if end is None and samples.ended:
            reason = samples.end_reason or "instrument"
            end = self.end = StepEnd(
                TIMEOUT if self.stability is not None and reason == "time" else reason
            )
        if end is not None and not samples.ended and end.reason not in ("operator", LOST):
            self.watch.stop()

    def _checkpoint_and_wait(self, got_points: bool, now: float) -> None:
        """A checkpoint behind new points (in virtual time, every checkpoint_interval_s of
        wall time), then (real time) a poll interval's sleep."""
        virtual = self.virtual
        if got_points and (
            not virtual or now - self.last_checkpoint >= self.pacing.checkpoint_interval_s
        ):
            self.journal.save_step(self.position, self.t_start, self.tally)
            self.last_checkpoint = now
        if not virtual:
            self.control.sleep(self.pacing.poll_interval_s)

    def _finish(self, end: StepEnd) -> StepEnd:
        """Record how the step ended: an alarm for what ends a run, its final row. A
        detached step is only checkpointed where it is."""
        if end.run_status == DETACHED:  # left as it is for the next daemon
            self._hold()
            return end
        position, step = self.position, self.step
        run_time_s = self.journal.run_time_s = self.t_start + self.tally.elapsed_s
        if end.reason == TIMEOUT and step.chamber is not None and self.stability is not None:
            self.journal.event(
                position,
                "chamber",
                "alarm",
                f"chamber not stable within ±{step.chamber.tolerance_K:g} K of "
                f"{self.stability.setpoint_K - 273.15:.1f} °C after "
                f"{step.chamber.timeout_s / 3600:g} h",
                t=run_time_s,
            )
        if end.reason == "short":
            self.journal.event(
                position,
                "short",
                "alarm",
                f"short detected at {run_time_s / 3600:.3f} h (cycle {position.cycle})",
                t=run_time_s,
            )
        record = self.journal.save_step(position, self.t_start, self.tally, end.reason)
        if self.on_step_end is not None:
            self.on_step_end(position, record)
        return end

    # -- helpers -------------------------------------------------------------------------

    def _step_now(self) -> float:
        """The run time the step has reached (s)."""
        return self.t_start + self.tally.elapsed_s

    def _hold(self) -> float:
        """Checkpoint the step where it is and stand the run clock there (s)."""
        return self.journal.hold(self.position, self.t_start, self.tally)
