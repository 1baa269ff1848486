"""A simulated temperature chamber living in the simulated channels' virtual time.

The chamber approaches its set point as a first-order system, with an optional steady
oscillation (a badly tuned controller that never settles) and seeded sensor noise::

    T(t) = sp + (T(t0) − sp)·e^(−(t − t0)/τ) + A_osc·sin(2π·t/P) + noise

t0 is the moment of the last set-point change. With no set point (controller off) it drifts
to ``ambient_K`` the same way. ``clock()`` gives the present time: the simulated
instrument passes its first channel's ``clock_s``, so the chamber shares that channel's
virtual clock.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cyclerctl import __version__

from ..base import ChamberReading, Identity
from .model import FloatArray
from .units import to_si


class SimChamber:
    """Implements :class:`cyclerctl.drivers.base.Chamber`."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        ambient_K: float = 298.15,
        time_constant_s: float = 600.0,
        oscillation_K: float = 0.0,
        oscillation_period_s: float = 900.0,
        noise_K: float = 0.02,
        seed: int = 0,
        name: str = "sim-chamber",
    ) -> None:
        problems = [
            text
            for bad, text in (
                (not ambient_K > 0, "ambient must be above 0 K"),
                (not time_constant_s > 0, "time constant must be > 0"),
                (oscillation_K < 0, "oscillation must be ≥ 0"),
                (not oscillation_period_s > 0, "oscillation period must be > 0"),
                (noise_K < 0, "noise must be ≥ 0"),
                (seed < 0, "seed must be ≥ 0"),
            )
            if bad
        ]
        if problems:
            raise ValueError("simulated chamber: " + "; ".join(problems))
        self._clock = clock
        self.ambient_K = ambient_K
        self.time_constant_s = time_constant_s
        self.oscillation_K = oscillation_K
        self.oscillation_period_s = oscillation_period_s
        self.noise_K = noise_K
        self._rng = np.random.default_rng(seed)
        self._setpoint: float | None = None
        self._t0 = clock()
        self._base0 = ambient_K  # the first-order part at t0
        self._identity = Identity(
            driver="sim",
            vendor="cyclerctl",
            model="simulated chamber",
            serial=f"SIM-{zlib.crc32(name.encode()):08X}",
            firmware=__version__,
        )
        self.closed = False

    # -- Chamber ---------------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self._identity

    def set_temperature(self, setpoint_K: float) -> None:
        if not (math.isfinite(setpoint_K) and setpoint_K > 0):
            raise ValueError(f"chamber set point must be above 0 K, not {setpoint_K!r}")
        now = self._clock()
        self._base0 = self._approach(np.array([now]))[0]
        self._t0 = now
        self._setpoint = setpoint_K

    def read(self) -> ChamberReading:
        temperature = float(self.temperature_at(np.array([self._clock()]))[0])
        return ChamberReading(temperature_K=temperature, setpoint_K=self._setpoint)

    def close(self) -> None:
        """Release the controller; a real chamber would keep its last set point."""
        self.closed = True

    # -- for the simulated channels --------------------------------------------------------

    @property
    def setpoint_K(self) -> float | None:
        return self._setpoint

    def temperature_at(self, t_s: FloatArray, *, noise: bool = True) -> FloatArray:
        """The chamber's temperature at clock times ``t_s`` (measured: with sensor noise,
        unless ``noise`` is False — the air the cell really sits in)."""
        t = np.asarray(t_s, dtype=float)
        temperature = self._approach(t)
        if self.oscillation_K:
            temperature = temperature + self.oscillation_K * np.sin(
                2 * np.pi * t / self.oscillation_period_s
            )
        if noise and self.noise_K:
            temperature = temperature + self.noise_K * self._rng.standard_normal(t.shape)
        return temperature

    def _approach(self, t: FloatArray) -> FloatArray:
        """The first-order part; times before the last set-point change read its value then."""
        target = self.ambient_K if self._setpoint is None else self._setpoint
        elapsed = np.maximum(t - self._t0, 0.0)
        result: FloatArray = target + (self._base0 - target) * np.exp(
            -elapsed / self.time_constant_s
        )
        return result


#: [sim.chamber] / ``SimInstrument(chamber={...})`` keys → (SimChamber argument, SI unit).
CHAMBER_KEYS: dict[str, tuple[str, str]] = {
    "ambient": ("ambient_K", "K"),
    "time_constant": ("time_constant_s", "s"),
    "oscillation": ("oscillation_K", "ΔK"),
    "oscillation_period": ("oscillation_period_s", "s"),
    "noise": ("noise_K", "ΔK"),
}


def chamber_from_settings(
    settings: Mapping[str, Any], *, clock: Callable[[], float], name: str = "sim-chamber"
) -> SimChamber:
    """A chamber from settings as a cell file writes them: ``{"time_constant": "10 min",
    "oscillation": "1.5 K", "ambient": "25 degC", "noise": "0.02 K", "seed": 3}``."""
    unknown = sorted(set(settings) - set(CHAMBER_KEYS) - {"seed"})
    if unknown:
        raise ValueError(
            f"simulated chamber: unknown setting(s) {', '.join(unknown)}; "
            f"it reads {', '.join(sorted({*CHAMBER_KEYS, 'seed'}))}"
        )
    values: dict[str, float] = {}
    for key, (argument, unit) in CHAMBER_KEYS.items():
        if key in settings:
            try:
                values[argument] = to_si(settings[key], unit)
            except ValueError as error:
                raise ValueError(f"[sim.chamber] {key} = {settings[key]!r}: {error}") from None
    seed = settings.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"[sim.chamber] seed = {seed!r}: expected a whole number ≥ 0")
    return SimChamber(clock=clock, seed=seed, name=name, **values)
