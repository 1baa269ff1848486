"""``lco-li``: a LiCoO2 cathode against Li metal (a coin half-cell), with rate effects.

The insertion model of insertion.py (OCV + I·R_s + one RC + fade) with an LCO OCV curve,
composed rather than changed, and two rate terms on top, so that a rate-capability test
loses capacity at high rate and gets it back at low rate:

* ``rate_polarization`` (per C of rate): an overpotential proportional to I/I_1C, i.e. a
  series resistance rate_polarization/I_1C added to R_s.
* ``diffusion_shift`` (fraction of the capacity per C): solid-state diffusion lets the
  particle surface run ahead of the bulk, so the voltage follows the OCV at the surface,
  x + diffusion_shift·I/I_1C. A discharge at rate r reaches the lower cut-off with about
  diffusion_shift·r of the capacity still in the bulk: with the defaults 2C gives ≈ 88 %
  of the C/10 capacity, 0.1C again gives it back (less fade).

    V = OCV(x + k·I/I_1C) + I·(R_s + R_rate) + V_rc,    k = diffusion_shift

Under a held current this is exact. Under a held voltage (the CV of a CC-CV charge) the
surface term is linearised around the hold's first current, as a resistance
(OCV(x + k·I_0/I_1C) − OCV(x))/I_0, so the hold starts on the current the CC phase ended
with. I_1C is the specified capacity (active mass × specific capacity, or nominal) per hour.

Temperature (a chamber): R_s, the electrolyte's part, follows Arrhenius with
``activation_energy`` from the cell's ``temperature``; the rate terms stay. Impedance: the
model's own small-signal response at its present state,
Z = R_s + R_rate + k·OCV'(x)/I_1C + R_p/(1 + jωτ) + OCV'(x)/(jω·Q_max).

Open-circuit voltage against x, the fraction of the specified capacity extracted (0 =
fully lithiated LiCoO2, discharged; 1 = charged to 4.2 V, ≈ Li0.49CoO2 for 140 mAh/g of
the 274 mAh/g a whole Li would give). The knots follow the shape of published slow-rate
Li_yCoO2 ‖ Li curves, Reimers & Dahn, J. Electrochem. Soc. 139 (1992) 2091: the steep tail
below ≈3.9 V as the last Li goes in (y > 0.95), the two-phase plateau at ≈3.93 V
(0.75 < y < 0.93, x ≈ 0.14–0.49), the single-phase rise through ≈4.0–4.1 V, the
order–disorder region near y = 0.5 smoothed into the rise to 4.2 V (≈140 mAh/g at 4.2 V,
as LCO half-cells give), and on to ≈4.4 V at 120 % (≈165–170 mAh/g at 4.4 V). The knots
are placed by hand on that shape, not digitised from one figure; between them PCHIP.

    x       OCV/V     x       OCV/V     x       OCV/V
   −0.020   2.500     0.100   3.895     0.750   4.055
    0.000   3.000     0.140   3.915     0.850   4.095
    0.005   3.350     0.250   3.922     0.920   4.140
    0.010   3.550     0.350   3.928     0.970   4.175
    0.020   3.720     0.480   3.935     1.000   4.200
    0.040   3.820     0.550   3.960     1.050   4.245
    0.070   3.870     0.650   4.005     1.100   4.300
                                        1.150   4.360
                                        1.200   4.430

The [sim] table (defaults): those of ncm622-li (resistance "30 ohm", polarization "60 mV",
polarization_time "600 s", utilization 1.0, fade_per_cycle 0.0005, coulombic_efficiency
0.998, noise "0.2 mV", current_noise "1 nA", temperature "25 degC", initial_soc 0, seed),
plus rate_polarization "40 mV", diffusion_shift 0.06, activation_energy "0.30 eV".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import CellSummary

from . import electrolyte
from .circuit import angular
from .curve import MonotoneCurve
from .electrolyte import BOLTZMANN_J_K
from .insertion import C_PER_AH, SIM_KEYS, InsertionCell, InsertionParameters
from .model import CellReadings, ComplexArray, FloatArray, NoiseSource, Trajectory
from .sim_table import check_keys
from .units import sim_value

NAME = "lco-li"
RATE_KEYS = frozenset({"rate_polarization", "diffusion_shift", "activation_energy"})

OCV_KNOTS: tuple[tuple[float, float], ...] = (
    (-0.020, 2.500),
    (0.000, 3.000),
    (0.005, 3.350),
    (0.010, 3.550),
    (0.020, 3.720),
    (0.040, 3.820),
    (0.070, 3.870),
    (0.100, 3.895),
    (0.140, 3.915),
    (0.250, 3.922),
    (0.350, 3.928),
    (0.480, 3.935),
    (0.550, 3.960),
    (0.650, 4.005),
    (0.750, 4.055),
    (0.850, 4.095),
    (0.920, 4.140),
    (0.970, 4.175),
    (1.000, 4.200),
    (1.050, 4.245),
    (1.100, 4.300),
    (1.150, 4.360),
    (1.200, 4.430),
)

OCV = MonotoneCurve([x for x, _ in OCV_KNOTS], [v for _, v in OCV_KNOTS])
_BISECTIONS = 100


@dataclass(frozen=True, slots=True)
class RateTerms:
    one_c_A: float  # I_1C: the specified capacity per hour
    rate_resistance_ohm: float  # rate_polarization / I_1C
    diffusion_shift: float  # x per C of rate
    activation_energy_J: float  # of R_s, from the cell's temperature

    @classmethod
    def from_cell(cls, cell: CellSummary, params: InsertionParameters) -> RateTerms:
        sim = cell.sim
        utilization = sim_value(sim, "utilization", 1.0, "")
        one_c_A = params.capacity_C / utilization / C_PER_AH
        terms = cls(
            one_c_A=one_c_A,
            rate_resistance_ohm=sim_value(sim, "rate_polarization", "40 mV", "V") / one_c_A,
            diffusion_shift=sim_value(sim, "diffusion_shift", 0.06, ""),
            activation_energy_J=sim_value(
                sim, "activation_energy", electrolyte.DEFAULTS["activation_energy"], "J"
            ),
        )
        problems = [
            text
            for bad, text in (
                (terms.rate_resistance_ohm < 0, "rate_polarization must be ≥ 0"),
                (not 0 <= terms.diffusion_shift < 1, "diffusion_shift must be in [0, 1)"),
                (terms.activation_energy_J < 0, "activation_energy must be ≥ 0"),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"cell {cell.name!r}: [sim] " + "; ".join(problems))
        return terms


class LcoCell(CellReadings):
    """An :class:`InsertionCell` on the LCO curve, with the rate terms around it."""

    def _noise(self) -> NoiseSource:
        return self._specified

    def __init__(self, params: InsertionParameters, rate: RateTerms) -> None:
        self.rate = rate
        self._specified = params  # R_s as the cell file gives it, at params.temperature_K
        self._temperature_K = params.temperature_K
        self._cell = InsertionCell(self._at(params.temperature_K), OCV)

    # -- CellModel -------------------------------------------------------------------------

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        trajectory = self._cell.hold_current(current_A, t_s)
        shift = self._shift(current_A)
        if shift == 0.0:
            return trajectory
        x = trajectory.state[:, 0]
        surface = OCV(x + shift) - OCV(x)
        return dataclasses.replace(trajectory, voltage_V=trajectory.voltage_V + surface)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        if self.rate.diffusion_shift == 0.0:
            return self._cell.hold_voltage(voltage_V, t_s)
        x0, v_rc0 = self._present()
        base = self._cell.params
        current0 = self._current_at(voltage_V, x0, v_rc0, base.series_resistance_ohm)
        if current0 != 0.0:
            surface = (OCV.value(x0 + self._shift(current0)) - OCV.value(x0)) / current0
        else:
            surface = self.rate.diffusion_shift / self.rate.one_c_A * OCV.slope(x0)
        self._cell.params = dataclasses.replace(
            base, series_resistance_ohm=base.series_resistance_ohm + surface
        )
        try:
            return self._cell.hold_voltage(voltage_V, t_s)
        finally:
            self._cell.params = base

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self._cell.commit(trajectory, index)

    # -- capabilities ----------------------------------------------------------------------

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        p = self._cell.params
        x0, _ = self._present()
        slope = OCV.slope(x0)  # V per unit x
        jw = 1j * angular(frequency_Hz)
        z: ComplexArray = (
            p.series_resistance_ohm
            + self.rate.diffusion_shift / self.rate.one_c_A * slope
            + p.polarization_resistance_ohm / (1 + jw * p.polarization_time_s)
            + slope / (jw * self._cell.capacity_C)
        )
        return z

    def set_temperature(self, temperature_K: float) -> None:
        if not temperature_K > 0:
            raise ValueError(f"temperature must be above 0 K, not {temperature_K!r}")
        self._temperature_K = temperature_K
        self._cell.params = self._at(temperature_K)

    # -- the cell as a lab would describe it -----------------------------------------------

    @property
    def params(self) -> InsertionParameters:
        """The insertion model's parameters in force (R_s includes R_rate)."""
        return self._cell.params

    @property
    def capacity_C(self) -> float:
        return self._cell.capacity_C

    @property
    def extracted_fraction(self) -> float:
        return self._cell.extracted_fraction

    @property
    def open_circuit_voltage_V(self) -> float:
        return self._cell.open_circuit_voltage_V

    # -- the rate terms --------------------------------------------------------------------

    def _at(self, temperature_K: float) -> InsertionParameters:
        p = self._specified
        arrhenius = math.exp(
            self.rate.activation_energy_J
            / BOLTZMANN_J_K
            * (1 / temperature_K - 1 / p.temperature_K)
        )
        return dataclasses.replace(
            p,
            series_resistance_ohm=p.series_resistance_ohm * arrhenius
            + self.rate.rate_resistance_ohm,
            temperature_K=temperature_K,
        )

    def _shift(self, current_A: float) -> float:
        return self.rate.diffusion_shift * current_A / self.rate.one_c_A

    def _present(self) -> tuple[float, float]:
        """(x, V_rc) now: the insertion cell's state, read through a pure zero-time query."""
        x, v_rc = self._cell.hold_current(0.0, np.zeros(1)).state[0][:2]
        return float(x), float(v_rc)

    def _current_at(self, voltage_V: float, x0: float, v_rc0: float, series: float) -> float:
        """I with OCV(x0 + k·I/I_1C) + I·R + V_rc = V (increasing in I: bisect)."""
        ohmic = (voltage_V - OCV.value(x0) - v_rc0) / series  # the surface term only adds
        low, high = min(ohmic, 0.0), max(ohmic, 0.0)
        for _ in range(_BISECTIONS):
            middle = 0.5 * (low + high)
            if not low < middle < high:
                break
            excess = OCV.value(x0 + self._shift(middle)) + middle * series + v_rc0 - voltage_V
            if excess > 0:
                high = middle
            else:
                low = middle
        return 0.5 * (low + high)


def lco_li(cell: CellSummary) -> LcoCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    check_keys(cell, SIM_KEYS | RATE_KEYS)
    insertion_sim = {k: v for k, v in cell.sim.items() if k in SIM_KEYS}
    params = InsertionParameters.from_cell(dataclasses.replace(cell, sim=insertion_sim))
    return LcoCell(params, RateTerms.from_cell(cell, params))
