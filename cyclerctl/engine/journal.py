"""What a running channel records, in order, to its run's sink: events, step rows,
checkpoints and the numbered points — and the run clock all of them are stamped with.

A checkpoint goes to the sink right behind the samples it covers, with the running step's
row (its charge so far), so a resumed step continues its tallies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import Position
from cyclerctl.engine.tally import StepTally, step_record
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


@dataclass
class RunJournal:
    """One run's records, numbered and stamped with the run clock."""

    sink: RunSink
    control: RunControl  # who asked for a pause/resume/stop, for the operator's events
    on_state: Callable[[str], None] | None  # told "paused" / "running" as they happen
    seq: int = 0  # seq of the last sample stored
    impedance_seq: int = 0  # seq of the last impedance point stored
    run_time_s: float = 0.0  # where the run stands: the default time of an event (s)

    # -- events --------------------------------------------------------------------------

    def event(
        self,
        position: Position,
        kind: str,
        severity: str,
        message: str,
        *,
        t: float | None = None,  # run time s; default: the start of the current step
        data: dict[str, object] | None = None,
    ) -> None:
        record = EventRecord(
            t=self.run_time_s if t is None else t,
            kind=kind,
            severity=severity,
            message=message,
            data={"step": position.ordinal, "cycle": position.cycle, **(data or {})},
        )
        self.sink.event(record)
        self.control.recorded(record)  # the daemon's notifications hear of it

    def paused(self, position: Position, t: float, where: str) -> None:
        said = self.control.said_by("paused", "pause")
        self.event(position, "operator", "info", f"{said} {where}", t=t)
        if self.on_state is not None:
            self.on_state("paused")

    def resumed(self, position: Position, t: float) -> None:
        self.event(position, "operator", "info", self.control.said_by("resumed", "resume"), t=t)
        if self.on_state is not None:
            self.on_state("running")

    def stopped(self, position: Position, t: float | None = None) -> None:
        self.event(position, "operator", "info", self.control.said_by("stopped", "stop"), t=t)

    # -- steps and checkpoints -----------------------------------------------------------

    def step_started(self, position: Position, t_start: float, tally: StepTally) -> None:
        self.sink.step_started(step_record(position, t_start, tally, None))

    def save_step(
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

    def hold(self, position: Position, t_start: float, tally: StepTally) -> float:
        """Checkpoint the running step where it is, and stand the run clock there (s)."""
        self.run_time_s = t_start + tally.elapsed_s
        self.save_step(position, t_start, tally)
        return self.run_time_s

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

    # -- points --------------------------------------------------------------------------

    def append_samples(
        self, position: Position, t_start: float, tally: StepTally, chosen: np.ndarray
    ) -> None:
        """Number the points chosen for storage (``chosen["t"]`` is step time) and store
        them; the step's tally learns its first and last seq."""
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

    def append_impedance(self, position: Position, t_start: float, points: np.ndarray) -> None:
        rows = np.empty(len(points), dtype=IMPEDANCE_ROW_DTYPE)
        rows["seq"] = np.arange(self.impedance_seq + 1, self.impedance_seq + 1 + len(points))
        rows["step"] = position.ordinal
        for name in ("f", "Zre", "Zim", "V_dc", "T"):
            rows[name] = points[name]
        rows["t"] = t_start + points["t"]
        self.impedance_seq += len(points)
        self.sink.append_impedance(rows)
