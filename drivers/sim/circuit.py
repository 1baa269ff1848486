"""Equivalent-circuit elements as complex impedances, vectorised over frequency."""

from __future__ import annotations

import numpy as np

from .model import ComplexArray, FloatArray


def angular(frequency_Hz: FloatArray) -> FloatArray:
    return 2.0 * np.pi * np.asarray(frequency_Hz, dtype=float)


def cpe_admittance(q: float, n: float, omega: FloatArray) -> ComplexArray:
    """Y = Q·(jω)^n of a constant-phase element (n = 1: a capacitor of Q farad)."""
    return np.asarray(q * (1j * omega) ** n, dtype=np.complex128)


def resistor_parallel_capacitor(
    resistance_ohm: float, capacitance_F: float, omega: FloatArray
) -> ComplexArray:
    """R ‖ C: R / (1 + jωRC)."""
    return np.asarray(
        resistance_ohm / (1.0 + 1j * omega * resistance_ohm * capacitance_F), dtype=np.complex128
    )
