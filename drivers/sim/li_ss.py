"""``li-ss``: Li ‖ electrolyte ‖ stainless steel, for the electrochemical stability window.

The working electrode is the steel; its potential is against the Li counter/reference.
Between the terminals sit the electrolyte's series resistance R and the steel's interface,
a double layer in parallel with the electrolyte's faradaic decomposition::

    V = x + I·R,    I = I_f(x) + C_dl·A·dx/dt

    I_f(x) = A·j_on·( e^((x − V_ox)/b) − e^((OCV − V_ox)/b)        oxidation
                    − e^(−(x − V_red)/b) + e^(−(OCV − V_red)/b) )   reduction (Li plating)

x is the interface potential, A the cell's area, j_on the ``onset_current`` density:
oxidation reaches j_on at x = V_ox (``oxidation_onset``) and grows an e-fold every b
(``tafel_slope``) above it; below, it is negligible. Li plating mirrors it below
``reduction_onset`` so a cathodic current has somewhere to go. The two constants make
I_f(OCV) = 0 exactly: the cell rests at its OCV. The Li counter electrode's own
overpotential is left out (the SS interface decides the window).

Quasi-steady: R·C_dl·A is milliseconds, far below a sample interval, so the interface
follows the terminals at once. In a sweep at rate r the capacitive current is C_dl·A·r
(20 nA/cm² at 1 mV/s with the defaults, 500× below the 10 µA/cm² threshold) and x solves
x + R·I_f(x) = V − R·C_dl·A·r (a safeguarded Newton iteration, vectorised); a step in the
applied potential charges the double layer instantly, and that charge is not counted.
The state is x, so an impedance spectrum at a DC bias sees the charge-transfer resistance
there: Z = R + R_ct ‖ CPE(C_dl·A, n), R_ct = 1/I_f'(x).

Series resistance at the reference temperature: the ``resistance`` key when given, else
L/(σ_ref·S) from the electrolyte keys (as ``blocking``) when the cell has a thickness, else
50 Ω. It follows the electrolyte's Arrhenius law with temperature.

The [sim] table (defaults): ocv "2.9 V", oxidation_onset "4.5 V", reduction_onset "0 V",
onset_current "10 uA/cm^2", tafel_slope "60 mV", double_layer "20 uF/cm^2", cpe_n 0.9,
resistance (see above), conductivity "3e-4 S/cm", reference_temperature "30 degC",
activation_energy "0.30 eV", noise "0.2 mV", current_noise "1 nA", temperature (default:
the reference temperature), seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import CellSummary

from . import electrolyte
from .circuit import angular, cpe_admittance
from .electrolyte import Electrolyte, bulk_resistance_ohm
from .model import CellReadings, ComplexArray, FloatArray, NoiseSource, Trajectory
from .sim_table import check_keys, read_seed
from .units import sim_value

NAME = "li-ss"
DEFAULT_SEED = 0x1155
SIM_KEYS = electrolyte.KEYS | frozenset(
    {
        "model",
        "ocv",
        "oxidation_onset",
        "reduction_onset",
        "onset_current",
        "tafel_slope",
        "double_layer",
        "cpe_n",
        "resistance",
        "noise",
        "current_noise",
        "seed",
        "temperature",
    }
)
DEFAULT_RESISTANCE = "50 ohm"
_MAX_EXPONENT = 500.0  # e^500 ≈ 1e217: far beyond any current, still finite when squared
_TOLERANCE_V = 1e-12
_MAX_ITERATIONS = 200


@dataclass(frozen=True, slots=True)
class LiSsParameters:
    electrolyte: Electrolyte
    resistance_ohm: float  # at the reference temperature
    area_m2: float
    ocv_V: float
    oxidation_onset_V: float
    reduction_onset_V: float
    onset_current_A_m2: float
    tafel_slope_V: float
    double_layer_F_m2: float
    cpe_n: float
    voltage_noise_V: float
    current_noise_A: float
    temperature_K: float
    seed: int

    @classmethod
    def from_cell(cls, cell: CellSummary) -> LiSsParameters:
        check_keys(cell, SIM_KEYS)
        sim = cell.sim
        medium = Electrolyte.from_sim(sim, cell.name)
        if "resistance" in sim or cell.thickness_m is None:
            resistance = sim_value(sim, "resistance", DEFAULT_RESISTANCE, "ohm")
        else:
            resistance = bulk_resistance_ohm(
                medium.conductivity_S_m, cell.thickness_m, cell.area_m2
            )
        params = cls(
            electrolyte=medium,
            resistance_ohm=resistance,
            area_m2=cell.area_m2,
            ocv_V=sim_value(sim, "ocv", "2.9 V", "V"),
            oxidation_onset_V=sim_value(sim, "oxidation_onset", "4.5 V", "V"),
            reduction_onset_V=sim_value(sim, "reduction_onset", "0 V", "V"),
            onset_current_A_m2=sim_value(sim, "onset_current", "10 uA/cm^2", "A/m^2"),
            tafel_slope_V=sim_value(sim, "tafel_slope", "60 mV", "V"),
            double_layer_F_m2=sim_value(sim, "double_layer", "20 uF/cm^2", "F/m^2"),
            cpe_n=sim_value(sim, "cpe_n", 0.9, ""),
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
                (self.resistance_ohm < 0, "resistance must be ≥ 0"),
                (self.area_m2 <= 0, "the cell's area must be > 0"),
                (
                    not self.reduction_onset_V < self.ocv_V < self.oxidation_onset_V,
                    "expected reduction_onset < ocv < oxidation_onset",
                ),
                (self.onset_current_A_m2 <= 0, "onset_current must be > 0"),
                (self.tafel_slope_V <= 0, "tafel_slope must be > 0"),
                (self.double_layer_F_m2 <= 0, "double_layer must be > 0"),
                (not 0 < self.cpe_n <= 1, "cpe_n must be in (0, 1]"),
                (self.voltage_noise_V < 0 or self.current_noise_A < 0, "noise must be ≥ 0"),
                (self.temperature_K <= 0, "temperature must be above 0 K"),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"cell {cell_name!r}: [sim] " + "; ".join(problems))


class LiSsCell(CellReadings):
    """The cell; its state is the interface potential x of the steel electrode."""

    def _noise(self) -> NoiseSource:
        return self.params

    def __init__(self, params: LiSsParameters) -> None:
        self.params = params
        p = params
        self._i_on = p.onset_current_A_m2 * p.area_m2  # A·j_on
        self._b = p.tafel_slope_V
        # computed as I_f computes them, so that I_f(OCV) is exactly zero
        self._ox_rest, self._red_rest = 0.0, 0.0
        oxidation, reduction = self._exponentials(np.array([p.ocv_V]))
        self._ox_rest, self._red_rest = float(oxidation[0]), float(reduction[0])
        self._temperature_K = p.temperature_K
        self._x = p.ocv_V

    # -- CellModel -------------------------------------------------------------------------

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        x = self._interface_for_current(current_A)
        n = len(t_s)
        return Trajectory(
            t_s=t_s,
            voltage_V=np.full(n, x + current_A * self.resistance_ohm),
            current_A=np.full(n, current_A),
            charge_C=current_A * t_s,
            state=np.full((n, 1), x),
        )

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        return self.sweep(voltage_V, 0.0, t_s)

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self._x = float(trajectory.state[index, 0])

    # -- capabilities ----------------------------------------------------------------------

    def sweep(self, start_V: float, rate_V_s: float, t_s: FloatArray) -> Trajectory:
        resistance = self.resistance_ohm
        capacitive = self.params.double_layer_F_m2 * self.params.area_m2 * rate_V_s
        voltage = start_V + rate_V_s * t_s
        x = self._interface_for_voltage(voltage - resistance * capacitive)
        faradaic = self.faradaic_current_A(x)
        if rate_V_s == 0.0:
            charge = (faradaic + capacitive) * t_s
        else:
            # dV = (1 + R·I_f'(x))·dx along the ramp, so ∫I_f dt = [∫I_f dx + R·I_f²/2] / r
            x0 = self._interface_for_voltage(np.array([start_V - resistance * capacitive]))
            charge = capacitive * t_s + (self._ramp_integral(x) - self._ramp_integral(x0)) / (
                rate_V_s
            )
        return Trajectory(
            t_s=t_s,
            voltage_V=voltage,
            current_A=faradaic + capacitive,
            charge_C=charge,
            state=x[:, np.newaxis],
        )

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        p = self.params
        omega = angular(frequency_Hz)
        slope = float(self._faradaic_slope(np.array([self._x]))[0])  # 1/R_ct
        admittance = slope + cpe_admittance(p.double_layer_F_m2 * p.area_m2, p.cpe_n, omega)
        interface: ComplexArray = 1.0 / admittance
        return self.resistance_ohm + interface

    def set_temperature(self, temperature_K: float) -> None:
        if not temperature_K > 0:
            raise ValueError(f"temperature must be above 0 K, not {temperature_K!r}")
        self._temperature_K = temperature_K

    # -- the cell as a lab would describe it -----------------------------------------------

    @property
    def resistance_ohm(self) -> float:
        p = self.params
        return p.resistance_ohm * p.electrolyte.resistance_factor(self._temperature_K)

    @property
    def interface_potential_V(self) -> float:
        return self._x

    def faradaic_current_A(self, x: FloatArray) -> FloatArray:
        oxidation, reduction = self._exponentials(x)
        result: FloatArray = self._i_on * (oxidation - self._ox_rest - reduction + self._red_rest)
        return result

    # -- the interface ---------------------------------------------------------------------

    def _exponentials(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = self.params
        up = np.minimum((x - p.oxidation_onset_V) / self._b, _MAX_EXPONENT)
        down = np.minimum(-(x - p.reduction_onset_V) / self._b, _MAX_EXPONENT)
        return np.exp(up), np.exp(down)

    def _faradaic_slope(self, x: FloatArray) -> FloatArray:
        oxidation, reduction = self._exponentials(x)
        result: FloatArray = self._i_on / self._b * (oxidation + reduction)
        return result

    def _ramp_integral(self, x: FloatArray) -> FloatArray:
        """∫I_f dx + R·I_f(x)²/2 (up to a constant)."""
        oxidation, reduction = self._exponentials(x)
        rests = self._red_rest - self._ox_rest
        integral = self._i_on * (self._b * (oxidation + reduction) + rests * x)
        result: FloatArray = integral + self.resistance_ohm * self.faradaic_current_A(x) ** 2 / 2
        return result

    def _interface_for_voltage(self, target: FloatArray) -> FloatArray:
        """x with x + R·I_f(x) = target; x lies between the OCV and the target."""
        resistance = self.resistance_ohm
        if resistance == 0.0:
            return np.array(target, dtype=float)
        ocv = self.params.ocv_V
        low, high = np.minimum(ocv, target), np.maximum(ocv, target)
        # beyond where I_f would carry all of (target − OCV)/R: the root's far side, from
        # which Newton's steps approach it monotonically (I_f is convex above the OCV,
        # concave below)
        guess = self._far_side((target - ocv) / resistance)
        return _safeguarded_newton(
            lambda x: x + resistance * self.faradaic_current_A(x) - target,
            lambda x: 1.0 + resistance * self._faradaic_slope(x),
            low,
            high,
            np.clip(guess, low, high),
        )

    def _interface_for_current(self, current_A: float) -> float:
        if current_A == 0.0:
            return self.params.ocv_V  # at rest, exactly
        return float(self._interface_for_currents(np.array([current_A]))[0])

    def _interface_for_currents(self, current_A: FloatArray) -> FloatArray:
        """x with I_f(x) = I: it lies between the OCV and :meth:`_far_side`."""
        far = self._far_side(current_A)
        ocv = self.params.ocv_V
        low, high = np.minimum(ocv, far), np.maximum(ocv, far)
        return _safeguarded_newton(
            lambda x: self.faradaic_current_A(x) - current_A,
            self._faradaic_slope,
            low,
            high,
            far,
        )

    def _far_side(self, current_A: FloatArray) -> FloatArray:
        """An x at which |I_f(x)| ≥ |I| on I's side of the OCV (one exponential alone)."""
        p = self.params
        margin = np.log(np.abs(current_A) / self._i_on + self._ox_rest + self._red_rest + 1.0)
        far: FloatArray = np.where(
            current_A >= 0,
            np.maximum(p.ocv_V, p.oxidation_onset_V + self._b * margin),
            np.minimum(p.ocv_V, p.reduction_onset_V - self._b * margin),
        )
        return far


def _safeguarded_newton(
    f: Callable[[FloatArray], FloatArray],
    slope: Callable[[FloatArray], FloatArray],
    low: FloatArray,
    high: FloatArray,
    x: FloatArray,
) -> FloatArray:
    """Roots of an increasing f bracketed by [low, high], elementwise: Newton's step where it
    stays inside the bracket, bisection where it would leave it."""
    low, high, x = low.copy(), high.copy(), x.copy()
    for _ in range(_MAX_ITERATIONS):
        value = f(x)
        low = np.where(value < 0, x, low)
        high = np.where(value > 0, x, high)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - value / slope(x)
        inside = (step > low) & (step < high)
        step = np.where(inside, step, 0.5 * (low + high))
        step = np.where(value == 0, x, step)
        done = np.abs(step - x) <= _TOLERANCE_V
        x = step
        if done.all():
            break
    return x


def li_ss(cell: CellSummary) -> LiSsCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    return LiSsCell(LiSsParameters.from_cell(cell))
