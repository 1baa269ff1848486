"""Chamber steps: set the temperature chamber, rest the cell, wait until it is stable.

Stable means the temperature stays within the tolerance of the set point for the whole
soak time. The temperature is judged on every sample's T column (the instrument's probe
at the cell, or the chamber's reading filled in by the engine), so a stability decision
never waits for a coarse chamber poll.
"""

from __future__ import annotations

import numpy as np

from cyclerctl.plan import ChamberSettings

STABLE = "stable"
TIMEOUT = "timeout:chamber"


class StabilityWatch:
    """Finds the first point at which the chamber has been in band for the soak time."""

    def __init__(self, settings: ChamberSettings) -> None:
        setpoint = settings.setpoint_K
        if not isinstance(setpoint, float | int):
            raise TypeError("the chamber step was not bound to its loop variables")
        self.setpoint_K = float(setpoint)
        self.tolerance_K = settings.tolerance_K
        self.soak_s = settings.soak_s
        self._in_band_since: float | None = None  # carried over from the previous block

    def first_stable(self, t: np.ndarray, temperature: np.ndarray) -> int | None:
        """Index of the first point that completes the soak, or None."""
        if t.size == 0:
            return None
        in_band = np.abs(temperature - self.setpoint_K) <= self.tolerance_K
        index = np.arange(t.size)
        # for every point, the last out-of-band point at or before it (-1: none in this block)
        last_out = np.maximum.accumulate(np.where(in_band, -1, index))
        carried = self._in_band_since if self._in_band_since is not None else float(t[0])
        band_start_t = np.where(last_out >= 0, t[np.minimum(last_out + 1, t.size - 1)], carried)
        stable = in_band & (t - band_start_t >= self.soak_s - 1e-9)
        hits = np.flatnonzero(stable)
        if hits.size:
            return int(hits[0])
        self._in_band_since = float(band_start_t[-1]) if in_band[-1] else None
        return None
