"""One emulated Neware channel: runs a step file's step on a simulated cell, buffers records.

The cycler's side of the bargain the driver relies on: every record of a test is kept with
its sequence number until the test is replaced, so a client that lost its connection
downloads the gap afterwards. Records follow the step file's record conditions (every Δt,
ΔV, ΔI since the last record), with the step's first and last point always recorded.

Virtual time: the cell advances only when records are asked for (:meth:`ensure`). Real
time: the emulator's clock thread calls :meth:`pull`, and the simulated channel advances
by wall-clock time × speed.

A step file's working steps run one after the other, as BTS runs them: a CC-CV file's CV
part starts when its CC part ends, and its records carry ``stepid`` 2 with time and
capacity counted from 0 again (BTS's ``testtime`` and ``cap`` are per step). A CV part's
``Curr`` is its current limit: the dummy load honours it, the simulated cell's channel
limits a hold to its own maximum.

``miscale="current_mA"`` reports ``curr`` in mA instead of the A a real BTS reports (the
captured BTS 8.0 records: ``curr`` -0.000295 with ``cap`` growing 0.000295 Ah per hour),
a deliberately broken instrument for a commissioning check to catch.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from typing import Protocol

from cyclerctl.plan import Step

from ..base import Samples, StepProgress
from .messages import ChannelAddress, RecordRow
from .stepfile import CV_CHARGE, Part, StepFile

C_PER_AH = 3600.0
J_PER_WH = 3600.0
KELVIN_AT_0_C = 273.15
MISCALES = ("current_mA",)


class Physics(Protocol):
    """What runs a step behind the channel: a simulated cell, or a dummy load."""

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None: ...
    def read(self) -> Samples: ...
    def stop(self) -> None: ...


class EmulatedChannel:
    def __init__(
        self, address: ChannelAddress, sim: Physics, *, miscale: str | None = None
    ) -> None:
        if miscale is not None and miscale not in MISCALES:
            raise ValueError(f"miscale {miscale!r}: one of {', '.join(MISCALES)}")
        self.address = address
        self.sim = sim
        self._current_scale = 1000.0 if miscale == "current_mA" else 1.0
        #: disabled: getdevinfo marks it false and it starts nothing
        self.disabled = False
        self._parts: tuple[Part, ...] = ()
        self._part = 0
        self.status = "finish"
        self.testid = 0
        self.barcode = ""  # the latest test's, as given to start
        self.records: list[RecordRow] = []
        #: earlier tests' records by test id: BTS keeps every test's data, downloadable
        self.earlier: dict[int, list[RecordRow]] = {}
        self._file: StepFile | None = None
        self._started = datetime.now()
        self._kept: tuple[float, float, float] | None = None  # t, V, I of the last record
        self._last_raw: tuple[float, float, float, float, float] | None = None  # t V I Q T
        self._last_raw_kept = False
        self._energy_Wh = 0.0
        self._previous: tuple[float, float] | None = None  # V, Q of the previous raw point
        self._sim_ended = True

    def start(self, file: StepFile, testid: int, barcode: str = "") -> None:
        """Begin a new test (the previous one's records stay downloadable by its test id)."""
        if self.testid:
            self.earlier[self.testid] = self.records
        self._parts = file.parts
        self._part = 0
        self.sim.start_step(_runnable(self._parts[0]))
        self._file = file
        self.testid = testid
        self.barcode = barcode
        self.records = []
        self._started = datetime.now()
        self._kept = None
        self._last_raw = None
        self._last_raw_kept = False
        self._energy_Wh = 0.0
        self._previous = None
        self._sim_ended = False
        self.status = "working"

    def stop(self) -> None:
        if self.status != "working":
            return
        self.sim.stop()
        for _ in range(1000):  # a stopped step ends on its next read
            if self._sim_ended:
                break
            self.pull()

    def ensure(self, upto: int) -> None:
        """Virtual time: simulate until record ``upto`` exists or the step has ended."""
        while len(self.records) < upto and not self._sim_ended:
            self.pull()

    def pull(self) -> None:
        """Take what the simulated channel has measured since the last pull."""
        if self._sim_ended or self._file is None:
            return
        samples = self.sim.read()
        p = samples.points
        columns = (
            p["t"].tolist(),
            p["V"].tolist(),
            p["I"].tolist(),
            p["Q"].tolist(),
            p["T"].tolist(),
        )
        for t, V, I, Q, T in zip(*columns, strict=True):
            self._take(t, V, I, Q, T)
        if samples.ended:
            if self._last_raw is not None and not self._last_raw_kept:
                self._append(*self._last_raw)  # the step's last point is always recorded
            if samples.end_reason is not None and self._part + 1 < len(self._parts):
                self._next_part()  # BTS goes on to the file's next step
                return
            self._sim_ended = True
            if self.status == "working":  # ended on its own limits, or stopped
                self.status = "finish" if samples.end_reason is not None else "stop"

    def _next_part(self) -> None:
        self._part += 1
        self._kept = None
        self._last_raw = None
        self._last_raw_kept = False
        self._energy_Wh = 0.0
        self._previous = None
        self.sim.start_step(_runnable(self._parts[self._part]))

    def window(self, startpos: int, count: int, testid: int = 0) -> list[RecordRow]:
        """Records ``startpos``… of test ``testid`` (0: the latest)."""
        records = self.records if testid in (0, self.testid) else self.earlier.get(testid, [])
        first = max(startpos, 1) - 1
        return records[first : first + max(count, 0)]

    def _take(self, t: float, V: float, I: float, Q: float, T: float) -> None:
        if self._previous is not None:
            V0, Q0 = self._previous
            self._energy_Wh += abs(0.5 * (V + V0) * (Q - Q0)) / J_PER_WH
        self._previous = (V, Q)
        self._last_raw = (t, V, I, Q, T)
        self._last_raw_kept = self._due(t, V, I)
        if self._last_raw_kept:
            self._append(t, V, I, Q, T)

    def _due(self, t: float, V: float, I: float) -> bool:
        if self._kept is None:
            return True  # the step's first point
        assert self._file is not None
        criteria = self._parts[self._part].step.record
        t0, V0, I0 = self._kept
        return (
            (criteria.every_s is not None and t - t0 >= criteria.every_s - 1e-9)
            or (criteria.delta_V is not None and abs(V - V0) >= criteria.delta_V)
            or (criteria.delta_I is not None and abs(I - I0) >= criteria.delta_I)
        )

    def _append(self, t: float, V: float, I: float, Q: float, T: float) -> None:
        assert self._file is not None
        self._kept = (t, V, I)
        part = self._parts[self._part]
        self.records.append(
            RecordRow(
                seqid=len(self.records) + 1,
                steptype=part.record_steptype,
                testtime_ms=round(t * 1000),
                volt=V,
                curr=I * self._current_scale,
                cap_Ah=abs(Q) / C_PER_AH,
                eng_Wh=self._energy_Wh,
                atime=(self._started + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S"),
                auxtemp_C=None if math.isnan(T) else T - KELVIN_AT_0_C,
                stepid=self._part + 1,
            )
        )


def _runnable(part: Part) -> Step:
    """A part as the physics behind the channel runs it. A CV step with a current limit is
    held at that limit until the voltage is reached (as a CC-CV at the limit: what a real
    channel does), so a CV after a CC goes on from the CC's current."""
    step = part.step
    if step.kind != "cv" or not isinstance(step.current_A, float | int) or not step.current_A:
        return step
    sign = 1.0 if part.step_type == CV_CHARGE else -1.0
    return dataclasses.replace(step, kind="cccv", current_A=sign * abs(float(step.current_A)))
