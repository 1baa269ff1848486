"""The TIME element of a Series 2400 reading, made monotonic across its wrap.

The instrument's timestamp is a relative timer in seconds that :SYSTem:TIME:RESet (and
power-on) sets to 0 and that starts over at 0 after 99 999.999 s, 27.8 h (2400S-900-01 §18,
:FORMat:ELEMents TIME and :SYSTem:TIME:RESet; the figure as the 6430 and 2500 manuals word
the same entry). Without unwrapping, a step longer than that would see every later reading
as older than the last one, keep none of them, and never end.

The rule: a reading more than half a period (50 000 s) older than the newest one seen is
taken as the timer having started over, and a period is added from there on; a smaller step
back is a reading seen before (left as it is: the driver drops it as not new), and so is a
reading more than half a period *newer* (one from before the latest wrap, seen again).
This rests on one assumption, which the driver keeps by construction: **two consecutive
:READ? are less than 50 000 s (13.9 h) apart in instrument time**, so at most one wrap can
fall between them and it cannot be mistaken for a stale reading. The engine reads a
running channel every few seconds and raises an alarm after 3 s without data; a lost link
ends the step (the channel comes back with the output off) and every step, a resumed one
included, starts with a :SYSTem:TIME:RESet that :meth:`Timestamps.reset` follows. A gap of
more than 27.8 h between two readings of one step would lose whole periods, and nothing in
the reading itself could tell.

Unconfirmed: the timer's rate. Keithley's note "Using the Model 2400 Internal Timestamp
Feature" (D. Rathburn, 1999) says the 2400 counts the ticks of an 8192 Hz / 8 clock, 1024 a
second, as milliseconds — 2.4 % fast by that mechanism, though the note words it "loses 24 ms
for every second". If so, the wrap comes after 97 656 s of real time, which changes nothing
here (the rule works in the timer's own units), and ``timestamp_scale`` (a driver option)
corrects the rate once a commissioning run has measured it.
"""

from __future__ import annotations

import math

import numpy as np

#: The TIME element runs from 0 to 99 999.999 s, then starts over at 0.
TIMESTAMP_PERIOD_S = 100_000.0


class Timestamps:
    """Unwraps the TIME element of one step's readings, in the order they arrive."""

    def __init__(self, period_s: float = TIMESTAMP_PERIOD_S) -> None:
        self.period_s = period_s
        self.wraps = 0  # how often the timer started over since the last reset
        self._newest: float | None = None  # the newest unwrapped time seen since then

    def reset(self) -> None:
        """The instrument's timer was just set to 0 (:SYSTem:TIME:RESet)."""
        self.wraps = 0
        self._newest = None

    def unwrap(self, raw: np.ndarray) -> np.ndarray:
        """Seconds since the last reset for each raw TIME value (NaN stays NaN)."""
        out = np.array(raw, dtype=float)
        half = self.period_s / 2
        for index, value in enumerate(out):
            if math.isnan(value):
                continue
            t = value + self.wraps * self.period_s
            if self._newest is not None:
                if t < self._newest - half:  # the timer started over since the newest one
                    self.wraps += 1
                    t += self.period_s
                elif t > self._newest + half:  # a reading from before the latest wrap
                    t -= self.period_s
            if self._newest is None or t > self._newest:
                self._newest = t
            out[index] = t
        return out
