"""``blocking``: stainless steel ‖ electrolyte ‖ stainless steel, the conductivity cell.

Neither electrode reacts, so the cell is the electrolyte's bulk resistance and the two
double layers::

    Z(ω) = R_b ‖ C_g  +  1 / (Q·(jω)^n + 1/R_leak)

    R_b = L / (σ(T)·S)          bulk resistance (σ Arrhenius, see electrolyte.py)
    C_g = ε0·εr·S / L           geometric capacitance, parallel to R_b
    Q, n                        ONE constant-phase element standing for both electrodes:
                                two equal CPEs (Q_e, n) in series are one with Q = Q_e/2,
                                so ``cpe_q`` is the cell's Q, not each electrode's
    R_leak                      a large leakage across the double layers (1 GΩ), so a
                                current held on the cell settles instead of charging it
                                without bound

L is the cell's ``thickness`` (required), S its ``area``. The Nyquist plot is the inclined
capacitive line of a blocking cell; its high-frequency intercept is R_b (the ``R_b ‖ C_g``
arc lies at tens of MHz for a coin-sized cell, beyond any potentiostat).

DC (steps and sweeps): the double layer is a capacitor C = Q·(1 s)^(n−1), i.e. the CPE's
capacitance at ω = 1 rad/s, the time scale of a sample; charged through R_b and leaking
through R_leak. Its voltage V_c is the model's state and the open-circuit voltage: a
symmetric cell as assembled sits at ``open_circuit_voltage`` (0 V), which leaks away through
R_leak (τ = R_leak·C, hours; a cell that is not what its file says, e.g. Li where steel
should be, shows volts). Under a held voltage the current is the capacitor's charging
current, decaying with τ = R_b·C (milliseconds); under a held current V_c ramps like a
capacitor's towards I·R_leak.

The [sim] table (defaults): conductivity "3e-4 S/cm" at reference_temperature "30 degC",
activation_energy "0.30 eV", cpe_q 1e-5 (F·s^(n−1), a plain number in SI or "1e-5 F
s^(n-1)"), cpe_n 0.9, permittivity 30 (relative), leakage "1e9 ohm", open_circuit_voltage
"0 V", noise "0.2 mV",
current_noise "1 nA", temperature (default: the reference temperature, so a cell file's
``conductivity`` is what a measurement at its default temperature finds), seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import CellSummary

from . import electrolyte
from .circuit import angular, cpe_admittance, resistor_parallel_capacitor
from .electrolyte import VACUUM_PERMITTIVITY_F_M, Electrolyte, bulk_resistance_ohm
from .model import CellReadings, ComplexArray, FloatArray, NoiseSource, Trajectory
from .sim_table import check_keys, read_seed
from .units import sim_value

NAME = "blocking"
DEFAULT_SEED = 0xB10C
SIM_KEYS = electrolyte.KEYS | frozenset(
    {
        "model",
        "cpe_q",
        "cpe_n",
        "permittivity",
        "leakage",
        "noise",
        "current_noise",
        "seed",
        "temperature",
        "open_circuit_voltage",
    }
)


@dataclass(frozen=True, slots=True)
class BlockingParameters:
    electrolyte: Electrolyte
    thickness_m: float
    area_m2: float
    cpe_q: float  # F·s^(n−1)
    cpe_n: float
    permittivity: float  # relative
    leakage_ohm: float
    open_circuit_voltage_V: float  # V_c of the cell as assembled
    voltage_noise_V: float
    current_noise_A: float
    temperature_K: float
    seed: int

    @classmethod
    def from_cell(cls, cell: CellSummary) -> BlockingParameters:
        check_keys(cell, SIM_KEYS)
        if cell.thickness_m is None:
            raise ValueError(
                f"cell {cell.name!r}: the blocking model needs the cell's thickness "
                "(the electrolyte layer between the steel disks, e.g. thickness = '200 um')"
            )
        sim = cell.sim
        medium = Electrolyte.from_sim(sim, cell.name)
        params = cls(
            electrolyte=medium,
            thickness_m=cell.thickness_m,
            area_m2=cell.area_m2,
            cpe_q=sim_value(sim, "cpe_q", 1e-5, "F s^(n-1)"),
            cpe_n=sim_value(sim, "cpe_n", 0.9, ""),
            permittivity=sim_value(sim, "permittivity", 30.0, ""),
            leakage_ohm=sim_value(sim, "leakage", "1e9 ohm", "ohm"),
            open_circuit_voltage_V=sim_value(sim, "open_circuit_voltage", "0 V", "V"),
            voltage_noise_V=sim_value(sim, "noise", "0.2 mV", "V"),
            current_noise_A=sim_value(sim, "current_noise", "1 nA", "A"),
            temperature_K=sim_value(sim, "temperature", medium.reference_temperature_K, "K"),
            seed=read_seed(sim, DEFAULT_SEED),
        )
        params.check(cell.name)
        return params

    def check(self, cell_name: str) -> None:
        problems = [
            text
            for bad, text in (
                (self.thickness_m <= 0 or self.area_m2 <= 0, "thickness and area must be > 0"),
                (self.cpe_q <= 0, "cpe_q must be > 0"),
                (not 0 < self.cpe_n <= 1, "cpe_n must be in (0, 1]"),
                (self.permittivity < 0, "permittivity must be ≥ 0"),
                (self.leakage_ohm <= 0, "leakage must be > 0"),
                (self.voltage_noise_V < 0 or self.current_noise_A < 0, "noise must be ≥ 0"),
                (self.temperature_K <= 0, "temperature must be above 0 K"),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"cell {cell_name!r}: [sim] " + "; ".join(problems))


class BlockingCell(CellReadings):
    """The cell; its state is the double-layer voltage V_c."""

    def _noise(self) -> NoiseSource:
        return self.params

    def __init__(self, params: BlockingParameters) -> None:
        self.params = params
        self._temperature_K = params.temperature_K
        self._v_c = params.open_circuit_voltage_V

    # -- CellModel -------------------------------------------------------------------------

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        settled = current_A * self.params.leakage_ohm
        tau = self.params.leakage_ohm * self.capacitance_F
        v_c = settled + (self._v_c - settled) * np.exp(-t_s / tau)
        return Trajectory(
            t_s=t_s,
            voltage_V=v_c + current_A * self.bulk_resistance_ohm,
            current_A=np.full(len(t_s), current_A),
            charge_C=current_A * t_s,
            state=v_c[:, np.newaxis],
        )

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        return self.sweep(voltage_V, 0.0, t_s)

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self._v_c = float(trajectory.state[index, 0])

    # -- capabilities ----------------------------------------------------------------------

    def sweep(self, start_V: float, rate_V_s: float, t_s: FloatArray) -> Trajectory:
        """The capacitor charged through R_b by V = start + rate·t, leaking through R_leak.

        dV_c/dt = −a·V_c + b·V(t) with b = 1/(R_b·C), a = b + 1/(R_leak·C): the forced part
        is linear in t (A + B·t), the free part decays as e^(−a·t).
        """
        r_b, c, r_leak = self.bulk_resistance_ohm, self.capacitance_F, self.params.leakage_ohm
        b = 1.0 / (r_b * c)
        a = b + 1.0 / (r_leak * c)
        slope = b * rate_V_s / a
        offset = (b * start_V - slope) / a
        decay = np.exp(-a * t_s)
        v_c = offset + slope * t_s + (self._v_c - offset) * decay
        voltage = start_V + rate_V_s * t_s
        integral_v_c = (
            offset * t_s + slope * t_s**2 / 2 - (self._v_c - offset) * np.expm1(-a * t_s) / a
        )
        return Trajectory(
            t_s=t_s,
            voltage_V=voltage,
            current_A=(voltage - v_c) / r_b,
            charge_C=c * (v_c - self._v_c) + integral_v_c / r_leak,
            state=v_c[:, np.newaxis],
        )

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        omega = angular(frequency_Hz)
        p = self.params
        bulk = resistor_parallel_capacitor(
            self.bulk_resistance_ohm, self.geometric_capacitance_F, omega
        )
        interface: ComplexArray = 1.0 / (
            cpe_admittance(p.cpe_q, p.cpe_n, omega) + 1.0 / p.leakage_ohm
        )
        return bulk + interface

    def set_temperature(self, temperature_K: float) -> None:
        if not temperature_K > 0:
            raise ValueError(f"temperature must be above 0 K, not {temperature_K!r}")
        self._temperature_K = temperature_K

    # -- the cell as a lab would describe it -----------------------------------------------

    @property
    def conductivity_S_m(self) -> float:
        return self.params.electrolyte.conductivity_at(self._temperature_K)

    @property
    def bulk_resistance_ohm(self) -> float:
        p = self.params
        return bulk_resistance_ohm(self.conductivity_S_m, p.thickness_m, p.area_m2)

    @property
    def geometric_capacitance_F(self) -> float:
        p = self.params
        return VACUUM_PERMITTIVITY_F_M * p.permittivity * p.area_m2 / p.thickness_m

    @property
    def capacitance_F(self) -> float:
        """The double layer as a capacitor on the time scale of a sample (ω = 1 rad/s)."""
        return self.params.cpe_q

    @property
    def open_circuit_voltage_V(self) -> float:
        return self._v_c


def blocking(cell: CellSummary) -> BlockingCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    return BlockingCell(BlockingParameters.from_cell(cell))
