"""The dummy load a technician puts on a channel: its nominal values, tolerances and the
response an instrument that measures right must show on it.

``--dummy`` text: comma-separated ``NAME=VALUE [±TOL]`` terms, names ``R`` (required),
``C`` (optional: the load is then R ‖ C, the arc of an RC dummy cell) and ``Rs`` (optional:
a resistor in series). ``"R=1 kohm"``, ``"R=100 ohm ±1 %, C=1 mF ±20 %"``,
``"Rs=10 ohm, R=100 ohm, C=1 mF"``. Default tolerances: R and Rs ±2 %, C ±20 % (the
spread of ordinary film resistors and electrolytic capacitors).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_R_TOLERANCE = 0.02
DEFAULT_C_TOLERANCE = 0.20
#: The slowest RC dummy commissioning waits for (steps last 10 τ).
MAX_TAU_S = 6.0

_TERM = re.compile(r"^\s*(?P<name>[A-Za-z]+)\s*=\s*(?P<value>[^±]+?)\s*(?:±\s*(?P<tol>.+?))?\s*$")
_UNITS = {"R": "ohm", "Rs": "ohm", "C": "farad"}


class DummyError(ValueError):
    """A ``--dummy`` text that does not describe a load; the CLI exits 2."""


@dataclass(frozen=True, slots=True)
class DummyLoad:
    """``R_s + (R ‖ C)`` with relative tolerances; C = 0 is a plain resistor."""

    resistance_ohm: float
    capacitance_F: float = 0.0
    series_ohm: float = 0.0
    resistance_tolerance: float = DEFAULT_R_TOLERANCE
    capacitance_tolerance: float = DEFAULT_C_TOLERANCE
    series_tolerance: float = DEFAULT_R_TOLERANCE
    text: str = ""

    @property
    def total_ohm(self) -> float:
        """The DC resistance: what a held current sees once the capacitor is charged."""
        return self.series_ohm + self.resistance_ohm

    @property
    def tau_s(self) -> float:
        return self.resistance_ohm * self.capacitance_F

    @property
    def has_arc(self) -> bool:
        return self.capacitance_F > 0

    @property
    def dc_tolerance(self) -> float:
        """Relative tolerance of the DC resistance (worst case of the two resistors)."""
        if self.total_ohm == 0:
            return self.resistance_tolerance
        return (
            self.series_ohm * self.series_tolerance
            + self.resistance_ohm * self.resistance_tolerance
        ) / self.total_ohm

    @property
    def apex_frequency_Hz(self) -> float | None:
        """Where −Z″ of the R ‖ C arc peaks: f = 1 / (2π·R·C)."""
        return 1.0 / (2 * math.pi * self.tau_s) if self.has_arc else None

    def voltage_under_current(
        self, current_A: float, t_s: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """V(t) of a discharged load from t = 0 under a held current."""
        if not self.has_arc:
            return np.full(len(t_s), current_A * self.total_ohm)
        charged = 1.0 - np.exp(-np.asarray(t_s) / self.tau_s)
        return current_A * (self.series_ohm + self.resistance_ohm * charged)

    def impedance(self, frequency_Hz: npt.NDArray[np.float64]) -> npt.NDArray[np.complex128]:
        omega = 2 * math.pi * np.asarray(frequency_Hz, dtype=float)
        return np.asarray(
            self.series_ohm
            + self.resistance_ohm / (1 + 1j * omega * self.resistance_ohm * self.capacitance_F),
            dtype=np.complex128,
        )

    def cell_toml(self, voltage_limit_V: float, current_limit_A: float) -> str:
        """A cell file for this load: its window is the commissioning limits, and its
        ``[sim]`` table is the simulator's ``dummy`` model (what emulators run on)."""
        lines = [
            f'name = "dummy load {self.text or self.describe()}"',
            'chemistry = "dummy load"',
            'diameter = "10 mm"',
            f'voltage_min = "{-voltage_limit_V!r} V"',
            f'voltage_max = "{voltage_limit_V!r} V"',
            f'current_max = "{current_limit_A!r} A"',
            "",
            "[sim]",
            'model = "dummy"',
            f'resistance = "{self.resistance_ohm!r} ohm"',
        ]
        if self.series_ohm:
            lines.append(f'series = "{self.series_ohm!r} ohm"')
        if self.capacitance_F:
            lines.append(f"capacitance = {self.capacitance_F!r}")
        return "\n".join(lines) + "\n"

    def describe(self) -> str:
        parts = []
        if self.series_ohm:
            parts.append(f"Rs={self.series_ohm:g} Ω ±{self.series_tolerance:.0%}")
        parts.append(f"R={self.resistance_ohm:g} Ω ±{self.resistance_tolerance:.0%}")
        if self.capacitance_F:
            parts.append(f"C={self.capacitance_F:g} F ±{self.capacitance_tolerance:.0%}")
        return ", ".join(parts)


def parse_dummy(text: str) -> DummyLoad:
    """``"R=100 ohm ±1 %, C=1 mF"`` → :class:`DummyLoad`; raises :class:`DummyError`."""
    from cyclerctl.protocol.units import registry

    values: dict[str, float] = {}
    tolerances: dict[str, float] = {}
    for term in (t for t in text.split(",") if t.strip()):
        match = _TERM.match(term)
        if match is None or match["name"] not in _UNITS:
            raise DummyError(
                f"--dummy: {term.strip()!r}: expected NAME=VALUE [±TOL] with NAME one of "
                f"R, C, Rs (e.g. \"R=100 ohm, C=1 mF\")"
            )
        name = match["name"]
        if name in values:
            raise DummyError(f"--dummy: {name} is given twice")
        values[name] = _quantity(registry(), match["value"], _UNITS[name], name)
        if match["tol"]:
            tolerances[name] = _tolerance(match["tol"], name)
    if "R" not in values:
        raise DummyError("--dummy: R is required (e.g. \"R=1 kohm\")")
    if values["R"] <= 0 or values.get("Rs", 0.0) < 0 or values.get("C", 0.0) < 0:
        raise DummyError("--dummy: R must be > 0, Rs and C ≥ 0")
    tau = values["R"] * values.get("C", 0.0)
    if tau > MAX_TAU_S:
        raise DummyError(
            f"--dummy: R·C = {tau:.3g} s: too slow to settle within a minute's step "
            f"(at most {MAX_TAU_S:g} s); use a smaller capacitor"
        )
    return DummyLoad(
        resistance_ohm=values["R"],
        capacitance_F=values.get("C", 0.0),
        series_ohm=values.get("Rs", 0.0),
        resistance_tolerance=tolerances.get("R", DEFAULT_R_TOLERANCE),
        capacitance_tolerance=tolerances.get("C", DEFAULT_C_TOLERANCE),
        series_tolerance=tolerances.get("Rs", DEFAULT_R_TOLERANCE),
        text=text.strip(),
    )


def _quantity(ureg: Any, text: str, unit: str, name: str) -> float:
    import pint

    try:
        quantity = ureg.Quantity(text)
        return float(quantity.to(unit).magnitude)
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, AssertionError):
        noun, example = ("capacitance", "1 mF") if unit == "farad" else ("resistance", "100 ohm")
        raise DummyError(
            f"--dummy: {name}={text!r}: expected a {noun} with its unit, e.g. {example}"
        ) from None


def _tolerance(text: str, name: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*", text)
    if match is None:
        raise DummyError(f"--dummy: {name} tolerance {text!r}: expected a percentage like '1 %'")
    value = float(match[1]) / 100
    if not 0 < value < 1:
        raise DummyError(f"--dummy: {name} tolerance must be between 0 and 100 %")
    return value
