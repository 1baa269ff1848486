"""A dummy load for commissioning: a plain resistor R on an emulated Neware channel.

A technician proves a new channel on a resistor before a cell goes on it: with a known R,
Ohm's law checks the V and I scaling and the current's sign, and CC, CV and rest steps each
give a value known in advance. This model stands in for the simulated cell behind the
emulator (``NewareEmulator(dummy_load_ohm=R)``), with the methods ``EmulatedChannel`` uses
of a simulated channel (``start_step`` / ``read`` / ``stop``):

- rest: no current, 0 V (a resistor has no open-circuit voltage);
- CC at I: V = I·R, unless that is beyond the channel's voltage range: then the channel is
  at its compliance voltage and I = V/R;
- CV at V: I = V/R, limited to the step's current limit (its ``current_A``, unsigned) or the
  channel's maximum, and then V = I·R; CC-CV at I to V: whichever of the two holds.

Points come every ``sample_interval_s`` of step time, noiseless (the checks compare with R
within a tolerance; nothing random, so nothing to seed), the step's last point exactly on
its time limit. The step ends on the first point that meets a condition (time, voltage,
|I| below, |Q|). Virtual time: each read gives up to ``block_points`` points; real time:
the points up to the wall-clock time × ``speed`` since the step began.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from cyclerctl.plan import EndCondition, Step

from ..base import SAMPLE_DTYPE, Samples, StepProgress, empty_samples

ROOM_K = 298.15


class ResistorLoad:
    def __init__(
        self,
        resistance_ohm: float,
        *,
        sample_interval_s: float = 1.0,
        realtime: bool = False,
        speed: float = 1.0,
        block_points: int = 500,
        voltage_range_V: tuple[float, float] = (-5.0, 5.0),
        current_max_A: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not resistance_ohm > 0 or not sample_interval_s > 0 or not speed > 0:
            raise ValueError("the dummy load needs R > 0, a sample interval > 0 and speed > 0")
        self.resistance_ohm = float(resistance_ohm)
        self._dt = sample_interval_s
        self._realtime = realtime
        self._speed = speed
        self._block = block_points
        self._range = voltage_range_V
        self._current_max = current_max_A
        self._clock = clock
        self._step: Step | None = None
        self._V = self._I = 0.0
        self._n = 0  # points given so far in this step
        self._began = 0.0
        self._ended = True
        self._stop = False

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self._step = step
        self._V, self._I = self._operating_point(step)
        self._n = 0
        self._began = self._clock()
        self._ended = self._stop = False

    def stop(self) -> None:
        self._stop = True

    def read(self) -> Samples:
        step = self._step
        if step is None or self._ended:
            return Samples(ended=True)
        if self._stop:
            self._ended = True
            return Samples(ended=True)
        if self._realtime:
            now = (self._clock() - self._began) * self._speed
            upto = math.floor(now / self._dt + 1e-9) + 1
        else:
            upto = self._n + self._block
        limit = _time_limit(step)
        points: list[tuple[float, float, float, float, float]] = []
        reason: str | None = None
        for n in range(self._n, upto):
            t = n * self._dt
            if limit is not None and t >= limit:
                t = limit
            Q = self._I * t
            points.append((t, self._V, self._I, Q, ROOM_K))
            reason = self._end(step, t, Q)
            if reason is not None:
                break
        self._n += len(points)
        block = np.array(points, dtype=SAMPLE_DTYPE) if points else empty_samples()
        if reason is not None:
            self._ended = True
        return Samples(block, ended=reason is not None, end_reason=reason)

    # -- the physics -------------------------------------------------------------------------

    def _operating_point(self, step: Step) -> tuple[float, float]:
        R = self.resistance_ohm
        low, high = self._range
        if step.kind == "rest":
            return 0.0, 0.0
        if step.kind == "cc":
            current = _value(step.current_A, step, "current")
            voltage = min(max(current * R, low), high)  # at compliance, I follows V
            return voltage, voltage / R
        if step.kind == "cv":
            limit = self._current_max
            if isinstance(step.current_A, float | int) and step.current_A:
                limit = min(abs(float(step.current_A)), limit)
            voltage = min(max(_value(step.voltage_V, step, "voltage"), low), high)
            current = min(max(voltage / R, -limit), limit)
            return current * R, current
        if step.kind == "cccv":  # CC until the voltage is reached, then CV there
            current = _value(step.current_A, step, "current")
            voltage = _value(step.voltage_V, step, "voltage")
            if (current > 0 and current * R >= voltage) or (current < 0 and current * R <= voltage):
                return voltage, voltage / R
            return current * R, current
        raise ValueError(f"the dummy load runs rest, cc, cv and cccv steps, not {step.kind}")

    def _end(self, step: Step, t: float, Q: float) -> str | None:
        for c in step.ends:
            if step.kind == "cccv" and c.kind in ("voltage_above", "voltage_below"):
                continue  # in CC-CV, reaching the voltage is the switch, not an end
            value = _condition_value(c)
            met = (
                (c.kind == "time" and t >= value - 1e-9)
                or (c.kind == "voltage_above" and value <= self._V)
                or (c.kind == "voltage_below" and value >= self._V)
                or (c.kind == "current_below" and abs(self._I) < value)
                or (c.kind == "charge" and abs(Q) >= value)
            )
            if met:
                return c.reason
        return None


def _time_limit(step: Step) -> float | None:
    times = [_condition_value(c) for c in step.ends if c.kind == "time"]
    return min(times) if times else None


def _condition_value(c: EndCondition) -> float:
    if not isinstance(c.value, float | int):
        raise ValueError(f"condition {c.kind} is not bound")
    return float(c.value)


def _value(value: object, step: Step, what: str) -> float:
    if not isinstance(value, float | int):
        raise ValueError(f"step {step.name!r}: no bound {what}")
    return float(value)
