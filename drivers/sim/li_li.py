"""``li-li``: a symmetric Li ‖ electrolyte ‖ Li cell, for CCD, Li‖Li cycling and t+.

Positive current strips Li from the working electrode (and plates it on the counter). The
cell has no OCV of its own; its voltage is the overpotential::

    V = I·R_0 + V_c,    R_0 = R_b + R_i,    dV_c/dt = (I·R_c − V_c) / τ,    R_c = R_b·(1/t+ − 1)

R_b is the membrane (li_metal.py: Arrhenius, thickness or ``resistance``). R_i = 2 ×
``interface_resistance`` / S: the two Li interfaces, identical and ohmic, in series, so
they are unchanged by a polarisation (Bruce–Vincent's R0 = Rs = R_i). V_c, the model's
state, is the concentration polarisation of the salt gradient: under a current it builds
with τ = ``concentration_time`` towards I·R_c, so a galvanostatic step settles at
I·(R_i + R_b/t+), and at rest it relaxes with τ.

Holding ΔV instead, I = (ΔV − V_c)/R_0 and V_c relaxes with τ' = τ·R_0/(R_0 + R_c)
towards ΔV·R_c/(R_0 + R_c)::

    I(t) = I_s + (I_0 − I_s)·e^(−t/τ'),   I_0 = (ΔV − V_c(0))/R_0,
    I_s = ΔV/(R_0 + R_c) = t+·ΔV/(R_b + t+·R_i)

so from a rested cell t+ = I_s(ΔV − I_0·R_i) / (I_0(ΔV − I_s·R_i)) exactly (Bruce &
Vincent, J. Electroanal. Chem. 225 (1987) 1; Evans, Vincent & Bruce, Polymer 28 (1987)
2324). With the defaults τ' ≈ 0.7·τ: a 1 h hold reaches I_s within ~1 %.

Impedance at the present temperature: Z = R_b + R_i ‖ CPE(``cpe_q``, ``cpe_n``), the two
interfaces lumped into one arc. The salt gradient adds its finite-length Warburg tail
R_c·tanh√(jωτ_d)/√(jωτ_d), τ_d = π²τ/4: its slowest mode is τ and its DC limit R_c, as in
the time domain. It is on by default, as in every real Li‖Li spectrum (a 45° line after the
interfacial arc); ``warburg = false`` leaves the bare R_b + R_i‖CPE. Temperature (a
chamber) changes R_b and R_c by the electrolyte's Arrhenius law; R_i and τ stay.

Short (li_metal.py): at |I|/S ≥ ``ccd`` for ``short_delay`` the cell shorts for good:
V = I·R_short, and V_c, no longer driven, relaxes.

The [sim] table (defaults): conductivity "3e-4 S/cm", reference_temperature "30 degC",
activation_energy "0.30 eV", resistance (R_b at the reference temperature; default
L/(σ·S) from the cell's thickness, else "20 ohm"), interface_resistance "50 ohm cm^2",
cpe_q 1e-5 (F·s^(n−1), both interfaces), cpe_n 0.85, transference_number 0.4,
concentration_time "20 min", warburg true, ccd "1.0 mA/cm^2", short_delay "60 s",
short_resistance "0.5 ohm", noise "50 uV", current_noise "1 nA", temperature "25 degC",
seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import CellSummary

from .li_metal import (
    CLOCK,
    COMMON_KEYS,
    SHORTED,
    LiMetalCell,
    LiMetalParameters,
    Piece,
    Response,
    areal_resistance,
    interface_impedance,
    refuse,
    shorted_in_parallel,
)
from .model import ComplexArray, FloatArray
from .sim_table import check_keys
from .units import sim_value

NAME = "li-li"
DEFAULT_SEED = 0x1111
SIM_KEYS = COMMON_KEYS | frozenset({
    "interface_resistance", "transference_number", "concentration_time", "warburg",
})
V_C = 0  # the state row: V_c, then li_metal's dendrite clock and shorted flag


@dataclass(frozen=True, slots=True)
class LiLiParameters:
    common: LiMetalParameters
    interface_resistance_ohm_m2: float  # of ONE Li interface
    transference_number: float
    concentration_time_s: float
    warburg: bool

    @classmethod
    def from_cell(cls, cell: CellSummary) -> LiLiParameters:
        check_keys(cell, SIM_KEYS)
        sim = cell.sim
        warburg = sim.get("warburg", True)
        if not isinstance(warburg, bool):
            raise ValueError(
                f"cell {cell.name!r}: [sim] warburg = {warburg!r}: expected true or false"
            )
        params = cls(
            common=LiMetalParameters.from_cell(cell, ccd="1.0 mA/cm^2", seed=DEFAULT_SEED),
            interface_resistance_ohm_m2=areal_resistance(
                sim, "interface_resistance", "50 ohm cm^2"
            ),
            transference_number=sim_value(sim, "transference_number", 0.4, ""),
            concentration_time_s=sim_value(sim, "concentration_time", "20 min", "s"),
            warburg=warburg,
        )
        refuse(cell.name, [
            *params.common.problems(),
            *[
                text
                for bad, text in (
                    (params.interface_resistance_ohm_m2 < 0, "interface_resistance must be ≥ 0"),
                    (
                        not 0 < params.transference_number <= 1,
                        "transference_number must be in (0, 1]",
                    ),
                    (params.concentration_time_s <= 0, "concentration_time must be > 0"),
                )
                if bad
            ],
        ])
        return params


class LiLiCell(LiMetalCell):
    """The cell; its state is the concentration polarisation V_c (and the short's)."""

    def __init__(self, params: LiLiParameters) -> None:
        self.params = params
        self.common = params.common
        self._short = params.common.short
        self._temperature_K = params.common.temperature_K
        self._row = np.zeros(3)

    # -- capabilities ----------------------------------------------------------------------

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        p = self.params
        z = self.bulk_resistance_ohm + interface_impedance(
            self.interface_resistance_ohm, p.common.cpe_q, p.common.cpe_n, frequency_Hz
        )
        if p.warburg and self.concentration_resistance_ohm > 0:
            tau_d = math.pi**2 * p.concentration_time_s / 4
            root = np.sqrt(2j * np.pi * np.asarray(frequency_Hz, dtype=float) * tau_d)
            z = z + self.concentration_resistance_ohm * np.tanh(root) / root
        if self.shorted:
            z = shorted_in_parallel(z, p.common.short_resistance_ohm)
        return z

    def set_temperature(self, temperature_K: float) -> None:
        if not temperature_K > 0:
            raise ValueError(f"temperature must be above 0 K, not {temperature_K!r}")
        self._temperature_K = temperature_K

    # -- the cell as a lab would describe it -----------------------------------------------

    @property
    def bulk_resistance_ohm(self) -> float:
        return self.params.common.bulk_resistance_at(self._temperature_K)

    @property
    def interface_resistance_ohm(self) -> float:
        """R_i: both Li interfaces in series."""
        p = self.params
        return 2 * p.interface_resistance_ohm_m2 / p.common.area_m2

    @property
    def concentration_resistance_ohm(self) -> float:
        """R_c = R_b·(1/t+ − 1): the settled concentration polarisation per ampere."""
        return self.bulk_resistance_ohm * (1 / self.params.transference_number - 1)

    @property
    def concentration_polarization_V(self) -> float:
        return float(self._row[V_C])

    @property
    def shorted(self) -> bool:
        return bool(self._row[SHORTED] > 0)

    @property
    def time_at_ccd_s(self) -> float:
        """Seconds the cell has carried a current density at or above its CCD."""
        return float(self._row[CLOCK])

    # -- the regimes -----------------------------------------------------------------------

    def _galvanostatic(self, current_A: float, row: FloatArray) -> Piece:
        tau = self.params.concentration_time_s
        v0 = float(row[V_C])
        shorted = bool(row[SHORTED] > 0)
        # shorted, the current bypasses the electrolyte: V_c is no longer driven
        settled = 0.0 if shorted else current_A * self.concentration_resistance_ohm
        series = self.bulk_resistance_ohm + self.interface_resistance_ohm
        short_V = current_A * self.params.common.short_resistance_ohm

        def respond(u: FloatArray) -> Response:
            v_c = settled + (v0 - settled) * np.exp(-u / tau)
            voltage = np.full(len(u), short_V) if shorted else current_A * series + v_c
            return Response(
                voltage, np.full(len(u), current_A), current_A * u, v_c[:, np.newaxis]
            )

        return Piece(respond)

    def _potentiostatic(self, voltage_V: float, row: FloatArray) -> Piece:
        tau = self.params.concentration_time_s
        v0 = float(row[V_C])
        if row[SHORTED] > 0:
            current = voltage_V / self.params.common.short_resistance_ohm

            def shorted(u: FloatArray) -> Response:
                v_c = v0 * np.exp(-u / tau)
                n = len(u)
                return Response(
                    np.full(n, voltage_V), np.full(n, current), current * u, v_c[:, np.newaxis]
                )

            return Piece(shorted)
        r0 = self.bulk_resistance_ohm + self.interface_resistance_ohm
        rc = self.concentration_resistance_ohm
        tau_v = tau * r0 / (r0 + rc)
        settled = voltage_V * rc / (r0 + rc)

        def respond(u: FloatArray) -> Response:
            v_c = settled + (v0 - settled) * np.exp(-u / tau_v)
            charge = ((voltage_V - settled) * u + (v0 - settled) * tau_v * np.expm1(-u / tau_v))
            return Response(
                np.full(len(u), voltage_V), (voltage_V - v_c) / r0, charge / r0,
                v_c[:, np.newaxis],
            )

        return Piece(respond)


def li_li(cell: CellSummary) -> LiLiCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    return LiLiCell(LiLiParameters.from_cell(cell))
