"""Instrument faults as a running channel meets them: what is recorded, what is waited for.

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from cyclerctl.drivers.base import Chamber, Channel, InstrumentFault, StepProgress
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.ending import StepEnd
from cyclerctl.engine.program import Position
from cyclerctl.plan import Step

#: the end reason of a run whose instrument stayed out of reach for instrument_lost_after_s
LOST = "instrument:lost"


class EventLog(Protocol):
    """The runner's events: one event at ``position``, at run time ``t`` (s)."""

    def __call__(
        self,
        position: Position,
        kind: str,
        severity: str,
        message: str,
        *,
        t: float | None = None,
        data: dict[str, object] | None = None,
    ) -> None: ...


@dataclass
class InstrumentWatch:
    """One run's instrument and chamber, as seen through their faults.

    The runner calls :meth:`enter` as each step begins, with ``hold``: checkpoint the
    step where it is and return that run time (s), done before any wait for the instrument.
    """

    channel: Channel
    chamber: Chamber | None
    control: RunControl
    event: EventLog
    on_state: Callable[[str], None] | None
    clock: Callable[[], float]
    poll_interval_s: float
    lost_after_s: float  # a lost instrument ends the run after this
    soft_fault_limit: int  # faults in a row (instrument answering) that count as lost
    _position: Position = field(init=False)
    _hold: Callable[[], float] = field(init=False)
    _faults_in_a_row: int = field(init=False, default=0)
    _away_since: float | None = field(init=False, default=None)  # on board: link down since
    _chamber_silent_since: float | None = field(init=False, default=None)

    def enter(self, position: Position, hold: Callable[[], float]) -> None:
        self._position, self._hold = position, hold
        self._faults_in_a_row, self._away_since = 0, None

    # -- commands that must get through ------------------------------------------------

    def start(self, step: Step, progress: StepProgress) -> StepEnd | None:
        """Start (or restart) the step on the channel, riding out a lost instrument; None
        when it runs, else how the run ends. A refusal repeated ``soft_fault_limit`` times
        is not transient: it is raised (the run fails with it)."""
        refusals = 0
        lost_at: float | None = None  # when a start first found the instrument out of reach
        t_lost = 0.0  # the run time then
        while True:
            try:
                self.channel.start_step(step, progress)
                return None
            except InstrumentFault as fault:
                if not fault.link_lost:
                    refusals += 1
                    if refusals >= self.soft_fault_limit:
                        raise
                elif lost_at is not None:
                    # still out of reach (a stop with nothing to stop "succeeds" without it):
                    # the outage goes on, bounded by instrument_lost_after_s as a whole
                    away = self.clock() - lost_at
                    end = self._interrupted(t_lost, "out of reach")
                    if end is None and away >= self.lost_after_s:
                        end = self._lost(fault, t_lost, away)
                    if end is not None:
                        return end
                    self.control.beat()
                    self.control.sleep(min(self.poll_interval_s, self.lost_after_s - away))
                    continue
                else:
                    lost_at, t_lost = self.clock(), self._hold()
                end = self.ride_out(fault)
                if end is not None:
                    return end

    def reenter(self, step: Step, progress: StepProgress, t: float) -> StepEnd | None:
        """The instrument is back with the cell at rest: the step goes on where it was."""
        position = self._position
        if not position.step.resumable:
            self.event(
                position,
                "interrupted",
                "alarm",
                f"step {position.ordinal} ({position.step.name}) cannot be resumed after "
                "the instrument was lost (resumable = false): the run ends here",
                t=t,
            )
            return StepEnd("interrupted", run_status="interrupted")
        return self.start(step, progress)

    def stop(self) -> StepEnd | None:
        """Stop the channel (output off, the cell at rest). If the instrument does not do it,
        ask again every poll until it does; None once it has, else ``instrument:lost``."""
        try:
            self.channel.stop()
        except InstrumentFault as fault:
            return self.ride_out(fault, pausing=False)
        return None

    def ride_out(self, fault: InstrumentFault, *, pausing: bool = True) -> StepEnd | None:
        """A host-sequenced channel's instrument is lost (or makes no sense): pause, and put
        the cell at rest as soon as the instrument answers. None when it has (the run goes
        on), else how the run ends: ``instrument:lost`` after ``instrument_lost_after_s``,
        the operator's stop, or a detach."""
        t = self._hold()
        limit = self.lost_after_s
        self._fault_event(
            fault, "alarm", t,
            f"the run pauses; {self.channel.name} is put at rest as soon as it answers "
            f"(the run ends if it does not within {limit:g} s)" if pausing
            else f"putting {self.channel.name} at rest as soon as it answers",
        )  # fmt: skip
        if pausing and self.on_state is not None:
            self.on_state("paused")
        lost_at = self.clock()
        last = fault
        while True:
            self.control.beat()
            try:
                self.channel.stop()  # the safe state: output off, the cell at open circuit
                break
            except InstrumentFault as again:
                last = again
            away = self.clock() - lost_at
            if pausing and (end := self._interrupted(t, "out of reach")) is not None:
                return end
            if away >= limit:
                return self._lost(last, t, away)
            self.control.sleep(min(self.poll_interval_s, limit - away))
        self._back(t, self.clock() - lost_at, at_rest=True)
        if pausing and self.on_state is not None:
            self.on_state("running")
        return None

    def _interrupted(self, t: float, why: str) -> StepEnd | None:
        """The operator's stop or a detach asked for while the instrument is ``why``."""
        if self.control.stop_requested:
            self.event(
                self._position, "operator", "info",
                f"{self.control.said_by('stopped', 'stop')} while {self.channel.name} was {why}",
                t=t,
            )  # fmt: skip
            return StepEnd.stopped()
        if self.control.detach_requested:
            if self.on_state is not None:
                self.on_state("running")  # the next daemon picks it up and goes on
            return StepEnd.detached()
        return None

    # -- reads ---------------------------------------------------------------------------

    def bearable(self, fault: InstrumentFault, t: float) -> bool:
        """A read of a host-sequenced step failed: True when the instrument still answers and
        this is not yet ``soft_fault_limit`` in a row (a warning; read again), False when the
        instrument counts as lost."""
        self._faults_in_a_row += 1
        if fault.link_lost or self._faults_in_a_row >= self.soft_fault_limit:
            return False
        self._fault_event(fault, "warning", t, "the step goes on")
        return True

    def link_down(self, fault: InstrumentFault, t: float) -> StepEnd | None:
        """A read of a step that runs on board failed: the step goes on there. None to read
        again after a poll, else ``instrument:lost`` (out of reach for too long)."""
        if self._away_since is None:
            self._away_since = self.clock()
            self._fault_event(
                fault, "alarm", t,
                "the step goes on on board; waiting for the link "
                f"(up to {self.lost_after_s:g} s)",
            )  # fmt: skip
        elif self.clock() - self._away_since >= self.lost_after_s:
            return self._lost(fault, t, self.clock() - self._away_since)
        return None

    def link_up(self, t: float) -> None:
        """The instrument answers again: its faults in a row start from none, and an outage
        of a step on board is recorded as a gap."""
        self._faults_in_a_row = 0
        if self._away_since is not None:
            self._back(t, self.clock() - self._away_since)
            self._away_since = None

    def after_end(self, end: StepEnd, fault: InstrumentFault, t: float) -> None:
        """A read failed once the step had ended: only the safe state is left to reach."""
        if end.reason == LOST:
            return  # waited for it already
        if fault.link_lost:
            self.ride_out(fault, pausing=False)
        else:
            self._fault_event(fault, "warning", t, "")

    # -- the chamber ---------------------------------------------------------------------

    def send_setpoint(self, setpoint_K: float, due: float | None, t: float) -> float | None:
        """Send the set point; None once acknowledged, else when it was first due."""
        assert self.chamber is not None
        try:
            self.chamber.set_temperature(setpoint_K)
        except InstrumentFault as fault:
            if due is None:
                self._fault_event(
                    fault, "alarm", t,
                    "the set point is sent again every poll; the step waits for it",
                )  # fmt: skip
                return self.clock()
            return due
        if due is not None:
            self._back(t, self.clock() - due)
        return None

    def with_chamber_temperature(self, block: np.ndarray, t_block: float) -> np.ndarray:
        """Fill the T column from the chamber where the instrument measured none (left
        unknown while the chamber does not answer: a soak cannot complete on it).
        ``t_block``: the run time (s) of the block's first point."""
        missing = np.isnan(block["T"])
        if missing.any() and self.chamber is not None:
            try:
                reading = self.chamber.read()
            except InstrumentFault as fault:
                if self._chamber_silent_since is None:
                    self._chamber_silent_since = self.clock()
                    self._fault_event(
                        fault, "alarm", t_block,
                        "no chamber temperature until it answers; the soak waits",
                    )  # fmt: skip
                return block
            if self._chamber_silent_since is not None:
                gap = self.clock() - self._chamber_silent_since
                self._chamber_silent_since = None
                self._back(t_block, gap, chamber=True)
            block = block.copy()
            block["T"][missing] = reading.temperature_K
        return block

    # -- events --------------------------------------------------------------------------

    def _lost(self, fault: InstrumentFault, t: float, away_s: float) -> StepEnd:
        self._fault_event(
            fault, "alarm", t, f"no answer for {away_s:.1f} s: the run ends (instrument:lost)"
        )
        return StepEnd(LOST, run_status="failed")

    def _back(
        self, t: float, gap_s: float, *, at_rest: bool = False, chamber: bool = False
    ) -> None:
        """A gap event: after ``gap_s`` the instrument (or the chamber) answers again, or
        (``at_rest``) took the stop that puts the cell at rest — which a channel with
        nothing running on it does without a word to the instrument, so no claim is made
        that it answered."""
        who = "the chamber" if chamber else self.channel.name
        if at_rest:
            what = f"{who} put at rest after {gap_s:.1f} s out of reach; the step goes on"
        else:
            what = f"{who} answered again after {gap_s:.1f} s: data flows again"
        self.event(
            self._position,
            "gap",
            "warning",
            f"{what} (from {t:.1f} s of the run)",
            t=t,
            data={"gap_s": gap_s, "cause": "chamber" if chamber else "instrument"},
        )

    def _fault_event(self, fault: InstrumentFault, severity: str, t: float, then: str) -> None:
        self.event(
            self._position,
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
