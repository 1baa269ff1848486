"""``dummy``: a dummy load on the channel instead of a cell — what commissioning runs on.

A technician proves a new instrument on a resistor, or on the RC dummy cell that BioLogic
and others ship, before any cell is connected. The load is ``R_s + (R ‖ C)``::

    Z(ω) = R_s + R / (1 + jωRC)          (C = 0: a plain resistor, R_s + R)

A plain resistor has no state and no open-circuit voltage; with a capacitor, the voltage
V_c across R ‖ C is the state (0 V: discharged), relaxing with τ = R·C:

    held current I:  V_c(t) = I·R + (V_c(0) − I·R)·e^(−t/τ),   V = I·R_s + V_c
    held voltage V:  the capacitor charges through R_s, leaks through R.

The [sim] table: ``series`` (R_s, default "0 ohm"), ``resistance`` (R, required),
``capacitance`` (C, default 0 F: no capacitor), ``noise`` ("20 uV"), ``current_noise``
("5 nA"), ``temperature`` ("25 degC"), ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import CellSummary

from .circuit import angular
from .model import CellReadings, ComplexArray, FloatArray, NoiseSource, Trajectory
from .sim_table import check_keys, read_seed
from .units import sim_value

NAME = "dummy"
DEFAULT_SEED = 0xD0D0
SIM_KEYS = frozenset(
    {"model", "series", "resistance", "capacitance", "noise", "current_noise", "temperature",
     "seed"}
)


@dataclass(frozen=True, slots=True)
class DummyParameters:
    series_ohm: float
    resistance_ohm: float
    capacitance_F: float
    voltage_noise_V: float
    current_noise_A: float
    temperature_K: float
    seed: int

    @classmethod
    def from_cell(cls, cell: CellSummary) -> DummyParameters:
        check_keys(cell, SIM_KEYS)
        sim = cell.sim
        if "resistance" not in sim:
            raise ValueError(f"cell {cell.name!r}: the dummy load needs [sim] resistance")
        params = cls(
            series_ohm=sim_value(sim, "series", 0.0, "ohm"),
            resistance_ohm=sim_value(sim, "resistance", 0.0, "ohm"),
            capacitance_F=sim_value(sim, "capacitance", 0.0, "F"),
            voltage_noise_V=sim_value(sim, "noise", "20 uV", "V"),
            current_noise_A=sim_value(sim, "current_noise", "5 nA", "A"),
            temperature_K=sim_value(sim, "temperature", "25 degC", "K"),
            seed=read_seed(sim, DEFAULT_SEED),
        )
        if params.resistance_ohm <= 0 or params.series_ohm < 0 or params.capacitance_F < 0:
            raise ValueError(
                f"cell {cell.name!r}: [sim] resistance must be > 0, series and capacitance ≥ 0"
            )
        return params


class DummyLoad(CellReadings):
    """The load; its state is the capacitor's voltage (always 0 without a capacitor)."""

    def _noise(self) -> NoiseSource:
        return self.params

    def __init__(self, params: DummyParameters) -> None:
        self.params = params
        self._temperature_K = params.temperature_K
        self._v_c = 0.0

    @property
    def _tau_s(self) -> float:
        return self.params.resistance_ohm * self.params.capacitance_F

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        p = self.params
        settled = current_A * p.resistance_ohm
        if self._tau_s > 0:
            v_c = settled + (self._v_c - settled) * np.exp(-t_s / self._tau_s)
        else:
            v_c = np.full(len(t_s), settled)
        return Trajectory(
            t_s=t_s,
            voltage_V=v_c + current_A * p.series_ohm,
            current_A=np.full(len(t_s), current_A),
            charge_C=current_A * t_s,
            state=v_c[:, np.newaxis],
        )

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        return self.sweep(voltage_V, 0.0, t_s)

    def sweep(self, start_V: float, rate_V_s: float, t_s: FloatArray) -> Trajectory:
        """V = start + rate·t at the terminals: C charged through R_s, leaking through R.

        Without a capacitor the current is V/(R_s + R) at once. With one and R_s > 0:
        dV_c/dt = −a·V_c + b·V(t), b = 1/(R_s·C), a = b + 1/(R·C) (as in ``blocking``).
        With R_s = 0 the capacitor follows the terminals and I = V/R + C·dV/dt.
        """
        p = self.params
        voltage = start_V + rate_V_s * t_s
        total = p.series_ohm + p.resistance_ohm
        if p.capacitance_F == 0 or p.series_ohm == 0:
            current = voltage / total + p.capacitance_F * rate_V_s
            v_c = voltage - current * p.series_ohm
            charge = (start_V * t_s + rate_V_s * t_s**2 / 2) / total + p.capacitance_F * (
                voltage - start_V
            )
            if p.capacitance_F > 0:  # the step from V_c(0) to the terminal voltage
                charge = charge + p.capacitance_F * (start_V - self._v_c)
        else:
            b = 1.0 / (p.series_ohm * p.capacitance_F)
            a = b + 1.0 / self._tau_s
            slope = b * rate_V_s / a
            offset = (b * start_V - slope) / a
            v_c = offset + slope * t_s + (self._v_c - offset) * np.exp(-a * t_s)
            current = (voltage - v_c) / p.series_ohm
            integral_v_c = (
                offset * t_s + slope * t_s**2 / 2 - (self._v_c - offset) * np.expm1(-a * t_s) / a
            )
            charge = p.capacitance_F * (v_c - self._v_c) + integral_v_c / p.resistance_ohm
        return Trajectory(
            t_s=t_s,
            voltage_V=voltage,
            current_A=np.asarray(current, dtype=float),
            charge_C=np.asarray(charge, dtype=float),
            state=np.asarray(v_c, dtype=float)[:, np.newaxis],
        )

    def commit(self, trajectory: Trajectory, index: int) -> None:
        if self.params.capacitance_F > 0:
            self._v_c = float(trajectory.state[index, 0])

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        p = self.params
        omega = angular(frequency_Hz)
        arc = p.resistance_ohm / (1.0 + 1j * omega * p.resistance_ohm * p.capacitance_F)
        return np.asarray(p.series_ohm + arc, dtype=np.complex128)

    @property
    def open_circuit_voltage_V(self) -> float:
        return self._v_c


def dummy_cell(
    resistance_ohm: float,
    *,
    series_ohm: float = 0.0,
    capacitance_F: float = 0.0,
    seed: int = DEFAULT_SEED,
) -> CellSummary:
    """A cell that is this dummy load: what an emulator is given to stand for a resistor or
    an RC dummy cell (commissioning, driver tests)."""
    sim: dict[str, object] = {"model": NAME, "resistance": resistance_ohm, "seed": seed}
    if series_ohm:
        sim["series"] = series_ohm
    if capacitance_F:
        sim["capacitance"] = capacitance_F
    return CellSummary(
        name=f"dummy load R_s={series_ohm:g} Ω, R={resistance_ohm:g} Ω, C={capacitance_F:g} F",
        chemistry="dummy load",
        area_m2=1e-4,
        nominal_capacity_Ah=None,
        sim=sim,
    )


def dummy(cell: CellSummary) -> DummyLoad:
    """The model for one dummy load, its values read from ``cell.sim``."""
    return DummyLoad(DummyParameters.from_cell(cell))
