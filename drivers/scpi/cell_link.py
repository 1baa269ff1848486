"""What stands behind the emulated SourceMeter's terminals, and how the source settings reach it.

Behind the terminals is a channel of the simulator (``SimChannel``) with no end conditions of
its own: the emulated SMU never ends anything itself. What the source is set to becomes a
simulator step with no end conditions, started where the last one left off, when the next
reading is taken:

- current source at 0 A → ``rest``; at I ≠ 0 with voltage compliance Vc → ``cccv`` with
  the CV voltage at ±Vc: the simulated cell meets compliance as a real SMU does (V clamped);
- voltage source at V with current compliance Ic → ``cv``, or ``cccv`` at ±Ic when holding V
  now would take more than Ic.

Time: virtual — each reading advances the cell by one sample interval, the readings of a
burst come from the points the channel has for one host poll; real time — :meth:`tick`
(called by the emulator's clock thread) lets the cell live up to the wall clock × speed,
and a burst returns the latest readings.

The physics is the simulator's; the simulated channel's own ranges (±5 V, ±0.1 A) clamp what
reaches the cell. Anything with the :class:`Cell` interface can stand there: a cell model on
a ``SimChannel`` (a dummy load included: the simulator's ``dummy`` model).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cyclerctl.plan import Step

from ..base import Samples, StepProgress
from ..sim.channel import CURRENT_MAX_A as SIM_CURRENT_MAX_A
from ..sim.channel import VOLTAGE_RANGE_V as SIM_VOLTAGE_RANGE_V
from ..sim.model import CellModel
from .keithley import MAX_TRIGGER_COUNT

log = logging.getLogger(__name__)


class Cell(Protocol):
    """What the link needs of the channel behind the terminals (``SimChannel`` has it)."""

    @property
    def model(self) -> CellModel: ...

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None: ...

    def read(self) -> Samples: ...

    def stop(self) -> None: ...


class Source(Protocol):
    """What the instrument's source is set to (the emulator's settings have it)."""

    output: bool
    function: str  # "CURR" or "VOLT"
    level: dict[str, float]  # by function
    protection: dict[str, float]  # compliance by quantity: "VOLT" for CURR, "CURR" for VOLT


@dataclass(slots=True)
class Reading:
    t: float  # the cell's time, s
    V: float
    current: float
    compliance: bool


class CellLink:
    """The source settings turned into simulator steps, and the cell's points into readings.
    Not thread-safe: its owner (the emulated instrument) holds the lock."""

    def __init__(
        self,
        cell: Cell,
        *,
        virtual_time: bool,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cell = cell
        self.virtual_time = virtual_time
        self._speed = speed
        self._clock = clock
        self._boot = clock()
        self._dirty = False  # the source settings changed since the cell was last set up
        self._running = False  # a simulator step is running (output on)
        self._sim_t = 0.0  # virtual time: the cell's time at its latest point
        self._pending: deque[Reading] = deque()  # virtual: simulated, not yet read out
        self._recent: deque[Reading] = deque(maxlen=MAX_TRIGGER_COUNT)  # real time

    # -- what the instrument tells the link -------------------------------------------------

    def changed(self) -> None:
        """The source settings changed: they apply from the next reading on."""
        self._dirty = True

    def switch_output(self, source: Source) -> None:
        if source.output:
            self._dirty = True
        else:  # off at once: the cell must not live on under a source that is off
            self._dirty = False
            self._stop_cell()

    def now(self) -> float:
        """The cell's clock: its latest point (virtual time) or the wall clock × speed."""
        if self.virtual_time:
            return self._sim_t
        return (self._clock() - self._boot) * self._speed

    def next_reading_t(self) -> float:
        """The cell time of the next reading to be read out (a timestamp reset counts from
        there)."""
        return self._pending[0].t if self._pending else self.now()

    # -- readings ----------------------------------------------------------------------------

    def take(self, count: int, source: Source) -> list[Reading]:
        """The ``count`` readings of one :READ?."""
        if self.virtual_time:
            return self._take_virtual(count, source)
        return self._take_real(count, source)

    def tick(self, source: Source) -> None:
        """Real time: let the cell live up to now."""
        if self._dirty:
            self._apply(source)
        if self._running:
            self._recent.extend(self._simulate_now(source))

    def _take_virtual(self, count: int, source: Source) -> list[Reading]:
        taken: list[Reading] = []
        empty_reads = 0
        while len(taken) < count:
            if not self._pending:
                if self._dirty:  # settings apply between readings, never inside a burst
                    self._apply(source)
                fresh = self._simulate_now(source)
                if not fresh:
                    empty_reads += 1
                    if empty_reads > 3:
                        raise RuntimeError("the simulated cell produced no points")
                self._pending.extend(fresh)
                continue
            taken.append(self._pending.popleft())
        return taken

    def _take_real(self, count: int, source: Source) -> list[Reading]:
        self.tick(source)
        if not self._recent:
            raise RuntimeError("the simulated cell produced no points")
        recent = list(self._recent)[-count:]
        return [recent[0]] * (count - len(recent)) + recent

    # -- the simulated cell ------------------------------------------------------------------

    def _stop_cell(self) -> None:
        if self._running:
            self.cell.stop()
            while not self.cell.read().ended:
                pass
            self._running = False
        self._pending.clear()
        self._recent.clear()

    def _apply(self, source: Source) -> None:
        """The source settings in force from now on become a simulator step."""
        self._dirty = False
        if not source.output:
            self._stop_cell()
            return
        if not self.virtual_time and self._running:
            self._recent.extend(self._simulate_now(source))  # up to now under the old settings
        self.cell.start_step(self._cell_step(source), StepProgress(elapsed_s=self.now()))
        self._running = True
        self._pending.clear()
        self._recent.clear()

    def _cell_step(self, source: Source) -> Step:
        level = source.level[source.function]
        if source.function == "CURR":
            if level == 0:
                return Step(0, "emulated 0 A", "rest")
            current = _clamp(level, SIM_CURRENT_MAX_A, "current")
            compliance = min(source.protection["VOLT"], sim_voltage_max())
            return Step(
                0,
                "emulated I source",
                "cccv",
                current_A=current,
                voltage_V=math.copysign(compliance, current),
            )
        voltage = _clamp(level, sim_voltage_max(), "voltage")
        limit = min(source.protection["CURR"], SIM_CURRENT_MAX_A)
        needed = float(self.cell.model.hold_voltage(voltage, np.zeros(1)).current_A[0])
        if abs(needed) > limit:
            return Step(
                0,
                "emulated V source",
                "cccv",
                current_A=math.copysign(limit, needed),
                voltage_V=voltage,
            )
        return Step(0, "emulated V source", "cv", voltage_V=voltage)

    def _simulate_now(self, source: Source) -> list[Reading]:
        """The points the simulated channel has for now: up to one host poll (virtual time),
        everything up to the wall clock (real time)."""
        points: list[np.ndarray] = []
        for _ in range(1 if self.virtual_time else 10_000):
            block = self.cell.read().points
            if not len(block):
                break
            points.append(block)
        if not points:
            return []
        block = np.concatenate(points)
        self._sim_t = float(block["t"][-1])
        limited = self._in_compliance(source)
        return [Reading(float(p["t"]), float(p["V"]), float(p["I"]), limited) for p in block]

    def _in_compliance(self, source: Source) -> bool:
        """Would the programmed source, applied now, need more than its compliance?"""
        level = source.level[source.function]
        model = self.cell.model
        if source.function == "CURR":
            if level == 0:
                return False
            compliance = min(source.protection["VOLT"], sim_voltage_max())
            voltage = float(model.hold_current(level, np.zeros(1)).voltage_V[0])
            return abs(voltage) >= compliance - 1e-9
        limit = min(source.protection["CURR"], SIM_CURRENT_MAX_A)
        current = float(model.hold_voltage(level, np.zeros(1)).current_A[0])
        return abs(current) >= limit - 1e-12


def sim_voltage_max() -> float:
    return min(abs(v) for v in SIM_VOLTAGE_RANGE_V)


def _clamp(value: float, limit: float, what: str) -> float:
    if abs(value) <= limit:
        return value
    log.warning("emulated SMU: %s %g is beyond the simulated channel's ±%g", what, value, limit)
    return math.copysign(limit, value)
