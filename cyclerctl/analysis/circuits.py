"""Equivalent circuits for impedance spectra, written as impedance.py writes them.

| name     | impedance.py string      | Z(ω)                                                 |
|----------|--------------------------|------------------------------------------------------|
| R-CPE    | ``R0-CPE1``              | R0 + 1/(Q1 (jω)^n1)                                  |
| R-RQ     | ``R0-p(R1,CPE1)``        | R0 + R1 / (1 + R1 Q1 (jω)^n1)                        |
| R-RQ-W   | ``R0-p(R1,CPE1)-W1``     | R-RQ + Aw (1 − j)/√ω   (semi-infinite Warburg)       |

R-CPE is a blocking cell (stainless steel | electrolyte | stainless steel) whose bulk
semicircle lies above the measured frequencies: R0 is the bulk resistance, the CPE the
electrode double layer. R-RQ is one resolved arc: the bulk (R0 + R1 at the arc's low-
frequency end) of a blocking cell measured cold, or the interface (R1) of a Li | Li cell.
R-RQ-W adds the diffusion tail that follows the arc at low frequency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Complexes = NDArray[np.complex128]


def cpe(Q: float, n: float, omega: Floats) -> Complexes:
    """Constant-phase element: 1 / (Q (jω)^n); Q in S·s^n, n in [0, 1]."""
    return np.asarray(1.0 / (Q * (1j * omega) ** n), dtype=np.complex128)


def rq(R: float, Q: float, n: float, omega: Floats) -> Complexes:
    """R in parallel with a CPE, written so that R → 0 and Q → 0 stay finite."""
    return np.asarray(R / (1.0 + R * Q * (1j * omega) ** n), dtype=np.complex128)


def warburg(Aw: float, omega: Floats) -> Complexes:
    """Semi-infinite Warburg element: Aw (1 − j) / √ω; Aw in Ω·s^-1/2."""
    return Aw * (1.0 - 1j) / np.sqrt(omega)


def _r_cpe(p: Mapping[str, float], omega: Floats) -> Complexes:
    return p["R0"] + cpe(p["Q1"], p["n1"], omega)


def _r_rq(p: Mapping[str, float], omega: Floats) -> Complexes:
    return p["R0"] + rq(p["R1"], p["Q1"], p["n1"], omega)


def _r_rq_w(p: Mapping[str, float], omega: Floats) -> Complexes:
    return _r_rq(p, omega) + warburg(p["Aw"], omega)


UNITS: dict[str, str] = {"R0": "ohm", "R1": "ohm", "Q1": "S*s^n", "n1": "1", "Aw": "ohm*s^-0.5"}
#: Parameters bounded to [0, 1]; all others are positive and fitted as their logarithm.
EXPONENTS = frozenset({"n1"})


@dataclass(frozen=True, slots=True)
class Circuit:
    name: str
    impedance_py: str  # the same circuit in impedance.py's notation
    parameters: tuple[str, ...]
    model: Callable[[Mapping[str, float], Floats], Complexes]

    def impedance(self, parameters: Mapping[str, float], f_Hz: Floats) -> Complexes:
        return self.model(parameters, 2.0 * np.pi * np.asarray(f_Hz, dtype=float))


CIRCUITS: dict[str, Circuit] = {
    c.name: c
    for c in (
        Circuit("R-CPE", "R0-CPE1", ("R0", "Q1", "n1"), _r_cpe),
        Circuit("R-RQ", "R0-p(R1,CPE1)", ("R0", "R1", "Q1", "n1"), _r_rq),
        Circuit("R-RQ-W", "R0-p(R1,CPE1)-W1", ("R0", "R1", "Q1", "n1", "Aw"), _r_rq_w),
    )
}


def circuit(name: str) -> Circuit:
    try:
        return CIRCUITS[name]
    except KeyError:
        raise ValueError(f"unknown circuit {name!r}; known: {', '.join(CIRCUITS)}") from None
