"""An impedance spectrum as the simulated potentiostat measures it: which frequencies, how
long each takes, and the noise on what it reads.

Frequencies run from ``f_start`` to ``f_stop`` log-spaced, ``points_per_decade`` per
decade, both ends included (as EC-Lab does): round(decades × per decade) + 1 points, so
100 kHz → 100 mHz at 10/decade is 61 points.

Timing rule, per frequency point: ``averages × max(1/f, 50 ms) + 50 ms``: each average
integrates at least one period (and at least 50 ms at high frequency), plus 50 ms to
settle and switch range. 100 kHz → 100 mHz at 10/decade, 1 average, takes ≈ 53 s of step
time, most of it in the last decade, as on a real potentiostat.

Noise: |Z| gets relative Gaussian noise of ``eis_noise`` (0.2 % by default) and the phase
Gaussian noise of the same number in radians (0.002 rad ≈ 0.11°), both seeded by the
channel's noise stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import EisSettings

from .model import ComplexArray, FloatArray

MIN_INTEGRATION_S = 0.05
SETTLE_S = 0.05
DEFAULT_EIS_NOISE = 0.002


def frequencies_Hz(settings: EisSettings) -> FloatArray:
    decades = abs(math.log10(settings.f_stop_Hz / settings.f_start_Hz))
    count = round(decades * settings.points_per_decade) + 1
    return np.geomspace(settings.f_start_Hz, settings.f_stop_Hz, count)


def point_durations_s(settings: EisSettings, frequency_Hz: FloatArray) -> FloatArray:
    """Step time each frequency point takes (see the module notes)."""
    result: FloatArray = (
        settings.averages * np.maximum(1.0 / frequency_Hz, MIN_INTEGRATION_S) + SETTLE_S
    )
    return result


def with_noise(
    impedance: ComplexArray, relative: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(Z', Z'') read with relative noise on |Z| and the same, in radians, on the phase."""
    n = len(impedance)
    magnitude = np.abs(impedance) * (1.0 + relative * rng.standard_normal(n))
    phase = np.angle(impedance) + relative * rng.standard_normal(n)
    return magnitude * np.cos(phase), magnitude * np.sin(phase)


@dataclass(slots=True)
class Spectrum:
    """The spectrum of one EIS step; point k is finished at step time ``finish_s[k]``."""

    frequency_Hz: FloatArray
    finish_s: FloatArray
    done: int = 0  # points already delivered

    @classmethod
    def plan(cls, settings: EisSettings, elapsed_s: float = 0.0) -> Spectrum:
        """The spectrum from step time 0; a resumed step skips what was measured before."""
        frequency = frequencies_Hz(settings)
        finish = np.cumsum(point_durations_s(settings, frequency))
        done = int(np.searchsorted(finish, elapsed_s + 1e-9, side="right"))
        return cls(frequency, finish, done)

    @property
    def end_s(self) -> float:
        return float(self.finish_s[-1])

    def due(self, t_s: float) -> slice:
        """The points not yet delivered that are finished by step time ``t_s``."""
        upto = int(np.searchsorted(self.finish_s, t_s + 1e-9, side="right"))
        due = slice(self.done, max(upto, self.done))
        self.done = max(upto, self.done)
        return due
