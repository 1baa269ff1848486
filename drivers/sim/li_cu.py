"""``li-cu``: Li ‖ electrolyte ‖ Cu, for Li plating/stripping efficiency and nucleation.

The working electrode is the Cu: plating Li onto it is a negative current, stripping it
off positive. The state is the Li on the Cu that can still be stripped (the inventory,
C ≥ 0), the charge held by the bare Cu surface, the time since Li began to nucleate on
bare Cu, and the dead Li (C, lost for good).

With Li on the Cu, the cell is Li ‖ Li: V = I·(R_b + R_ct). R_ct = ``interface_resistance``
/ S, or, by default, the linear interfacial overpotential ``plating_overpotential`` at
0.5 mA/cm² (30 mV: R_ct·S = 60 Ω·cm²); it applies to stripping alike.

Plating: of every coulomb plated, ``coulombic_efficiency`` (CE) joins the inventory and
the rest turns into dead Li and SEI at once. Plating onto bare Cu first has to nucleate Li:
the voltage dips by ``nucleation_overpotential`` η_n below the plateau and recovers as the
nuclei grow, V = −|I|·(R_b + R_ct) − η_n·sech²(s/w), s the plating time since nucleation
began, w = ``nucleation_time``/3 (1 % of the dip is left after nucleation_time). The dip's
minimum is η_n exactly; sech² is flat there, so the sampled minimum is η_n too.

Stripping: at the inventory's last coulomb the Cu is bare and the voltage climbs with the
charge then stored on it: 1.2 V per 0.2 mC/cm² (the double layer; a 1.0 V cut-off ends the
strip within 0.35 s at 0.5 mA/cm²), then on to Cu oxidation at 3.4 V over 20 mC/cm², and
barely higher beyond (0.1 V per 100 mC/cm²). Plating onto bare Cu first discharges it to
0 V, then nucleates.

Open circuit, as a real cell shows it: a freshly assembled Li|electrolyte|Cu cell rests at
2.5–3 V (Cu with its native oxide against Li; ``open_circuit_voltage``, 2.8 V), not near
0 V. With Li on the Cu the cell is Li ‖ Li and rests at 0 V at once. Bare Cu at rest (a
fresh cell, or after the last Li is stripped) drifts back towards ``open_circuit_voltage``
with τ = ``relaxation_time`` (20 min): V = V_oc + (V_0 − V_oc)·e^(−t/τ), the Cu's charge
following the curve above. A protocol's [safety] window must therefore allow ~3 V at rest;
the strip's cut-off (+1 V) is a step end condition, not a safety limit.

The first plating onto fresh Cu reduces electrolyte into an SEI before any Li is deposited:
the Cu is discharged to ``sei_voltage`` (0.8 V, about where carbonates start to be reduced
on Cu), and there the voltage sits on a plateau (V = sei_voltage − |I|·(R_b + R_ct)) until
``sei_charge`` (0.1 mAh/cm²) has passed; that charge is lost for good, then the Cu goes on
to 0 V and Li nucleates. The SEI forms once: later platings skip it. This is why Adams et
al. (below) condition the Cu with one plate/strip before the measured cycles: with 5 mAh/cm²
plated, the conditioning cycle's CE is ≈ CE·(1 − 0.1/5 − ~0.004) ≈ 0.957 for CE = 0.98,
clearly below the later cycles. The 0.1 mAh/cm² is chosen, not digitised from one paper:
it puts the first cycle a few % below the later ones, as Li‖Cu cells show and as the reason
Adams et al. give for their conditioning step; set ``sei_charge = "0 mAh/cm^2"`` for a Cu
with no first-cycle loss. Under a held voltage below the knee the SEI
takes a constant current (V − V_knee)/(R_b + R_ct) until it is formed.

Average CE (Adams et al., Adv. Energy Mater. 8 (2018) 1702097, method 3): plate Qt, cycle
n × (strip Qc, plate Qc), strip all to the cut-off (Qs). The inventory after Qt is CE·Qt;
each cycle strips Qc and returns CE·Qc, losing (1 − CE)·Qc; so Qs = CE·Qt − n(1 − CE)·Qc
and (Qs + n·Qc)/(Qt + n·Qc) = CE exactly: the standard definition recovers the model's CE
with loss on plating, no bias (the charge on bare Cu at the cut-off, ~0.2 mC/cm², adds
< 1e-4 for the protocol's numbers; the SEI is formed in the conditioning cycle, before Qt).

Short and impedance as li_metal.py: Z = R_b + R_ct ‖ CPE; above ``ccd`` for
``short_delay`` the cell shorts for good (V = I·R_short, the Li stays where it is). The
dendrite clock stands still while bare Cu is discharged or takes its SEI: the Li foil is
stripped and no Li is deposited yet, so nothing can grow through the membrane.

The [sim] table (defaults): conductivity "3e-4 S/cm", reference_temperature "30 degC",
activation_energy "0.30 eV", resistance (R_b at the reference temperature; default
L/(σ·S) from the cell's thickness, else "20 ohm"), coulombic_efficiency 0.98,
nucleation_overpotential "50 mV", nucleation_time "60 s", plating_overpotential "30 mV"
(at 0.5 mA/cm²) or interface_resistance (Ω·cm², not both), open_circuit_voltage "2.8 V"
(a fresh cell's bare Cu), relaxation_time "20 min", sei_charge "0.1 mAh/cm^2", sei_voltage
"0.8 V", cpe_q 1e-5, cpe_n 0.85, ccd "10 mA/cm^2", short_delay "60 s", short_resistance
"0.5 ohm", noise "50 uV", current_noise "1 nA", temperature "25 degC", seed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
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
    steady,
)
from .model import ComplexArray, FloatArray
from .sim_table import check_keys
from .units import sim_value

NAME = "li-cu"
DEFAULT_SEED = 0xC0
SIM_KEYS = COMMON_KEYS | frozenset({
    "coulombic_efficiency", "nucleation_overpotential", "nucleation_time",
    "plating_overpotential", "interface_resistance", "open_circuit_voltage",
    "sei_charge", "sei_voltage", "relaxation_time",
})
#: The current density ``plating_overpotential`` is given at: 0.5 mA/cm².
PLATING_REFERENCE_A_M2 = 5.0
#: Bare Cu against Li: the voltage at these charges stored per area, linear in between…
BARE_CU_CHARGE_C_M2 = (0.0, 2.0, 202.0)
BARE_CU_VOLTAGE_V = (0.0, 1.2, 3.4)
#: …and beyond the last, Cu oxidation: the voltage barely rises.
CU_OXIDATION_SLOPE_V_M2_C = 1e-4
#: A fresh Li|electrolyte|Cu cell's rest voltage: 2.5–3 V (Cu with its native oxide
#: against Li), the voltage bare Cu drifts back towards once all Li is stripped.
DEFAULT_OPEN_CIRCUIT_VOLTAGE = "2.8 V"
#: Electrolyte reduced into an SEI on the first plating onto fresh Cu (areal charge), at
#: about the onset of carbonate reduction on Cu.
DEFAULT_SEI_CHARGE = "0.1 mAh/cm^2"
DEFAULT_SEI_VOLTAGE = "0.8 V"
#: How fast bare Cu at rest drifts back towards its open-circuit voltage.
DEFAULT_RELAXATION_TIME = "20 min"
# the state row: then li_metal's dendrite clock and shorted flag
LI, BARE, NUCLEATION, DEAD, SEI = 0, 1, 2, 3, 4
_AT_KNEE = 1e-9  # relative: the bare Cu's charge counts as at the SEI knee within this


@dataclass(frozen=True, slots=True)
class LiCuParameters:
    common: LiMetalParameters
    coulombic_efficiency: float
    nucleation_overpotential_V: float
    nucleation_time_s: float
    interface_resistance_ohm_m2: float
    open_circuit_voltage_V: float
    sei_charge_C_m2: float
    sei_voltage_V: float
    relaxation_time_s: float

    @classmethod
    def from_cell(cls, cell: CellSummary) -> LiCuParameters:
        check_keys(cell, SIM_KEYS)
        sim = cell.sim
        if "interface_resistance" in sim and "plating_overpotential" in sim:
            raise ValueError(
                f"cell {cell.name!r}: [sim] give interface_resistance or "
                "plating_overpotential, not both (they are the same interface)"
            )
        if "interface_resistance" in sim:
            interface = areal_resistance(sim, "interface_resistance", 0.0)
        else:
            overpotential = sim_value(sim, "plating_overpotential", "30 mV", "V")
            interface = overpotential / PLATING_REFERENCE_A_M2
        params = cls(
            common=LiMetalParameters.from_cell(cell, ccd="10 mA/cm^2", seed=DEFAULT_SEED),
            coulombic_efficiency=sim_value(sim, "coulombic_efficiency", 0.98, ""),
            nucleation_overpotential_V=sim_value(sim, "nucleation_overpotential", "50 mV", "V"),
            nucleation_time_s=sim_value(sim, "nucleation_time", "60 s", "s"),
            interface_resistance_ohm_m2=interface,
            open_circuit_voltage_V=sim_value(
                sim, "open_circuit_voltage", DEFAULT_OPEN_CIRCUIT_VOLTAGE, "V"
            ),
            sei_charge_C_m2=sim_value(sim, "sei_charge", DEFAULT_SEI_CHARGE, "C/m^2"),
            sei_voltage_V=sim_value(sim, "sei_voltage", DEFAULT_SEI_VOLTAGE, "V"),
            relaxation_time_s=sim_value(sim, "relaxation_time", DEFAULT_RELAXATION_TIME, "s"),
        )
        refuse(cell.name, [
            *params.common.problems(),
            *[
                text
                for bad, text in (
                    (
                        not 0 < params.coulombic_efficiency <= 1,
                        "coulombic_efficiency must be in (0, 1]",
                    ),
                    (params.nucleation_overpotential_V < 0, "nucleation_overpotential must be ≥ 0"),
                    (params.nucleation_time_s <= 0, "nucleation_time must be > 0"),
                    (
                        params.interface_resistance_ohm_m2 < 0,
                        "interface_resistance / plating_overpotential must be ≥ 0",
                    ),
                    (params.open_circuit_voltage_V < 0, "open_circuit_voltage must be ≥ 0"),
                    (params.sei_charge_C_m2 < 0, "sei_charge must be ≥ 0"),
                    (
                        not 0 < params.sei_voltage_V < BARE_CU_VOLTAGE_V[-1],
                        f"sei_voltage must be in (0, {BARE_CU_VOLTAGE_V[-1]:g}) V",
                    ),
                    (params.relaxation_time_s <= 0, "relaxation_time must be > 0"),
                )
                if bad
            ],
        ])
        return params


@dataclass(frozen=True, slots=True)
class BareCu:
    """Bare Cu's voltage against the charge on it: linear segments, the last open-ended."""

    charge_C: tuple[float, ...]  # at the knots
    voltage_V: tuple[float, ...]
    slope_V_C: tuple[float, ...]  # per segment, from each knot on

    @classmethod
    def for_area(cls, area_m2: float, knee_V: float | None = None) -> BareCu:
        """The curve for a disk of ``area_m2``; ``knee_V`` adds a knot (on the curve, so
        the curve is unchanged) where a hold must stop: the SEI's formation voltage."""
        q = [c * area_m2 for c in BARE_CU_CHARGE_C_M2]
        v = list(BARE_CU_VOLTAGE_V)
        if knee_V is not None and knee_V not in v and v[0] < knee_V < v[-1]:
            k = bisect.bisect_left(v, knee_V)
            q.insert(k, q[k - 1] + (knee_V - v[k - 1]) * (q[k] - q[k - 1]) / (v[k] - v[k - 1]))
            v.insert(k, knee_V)
        slopes = [(v[k + 1] - v[k]) / (q[k + 1] - q[k]) for k in range(len(q) - 1)]
        return cls(tuple(q), tuple(v), (*slopes, CU_OXIDATION_SLOPE_V_M2_C / area_m2))

    def voltage(self, charge_C: FloatArray) -> FloatArray:
        knots = np.asarray(self.charge_C)
        k = np.clip(np.searchsorted(knots, charge_C, side="right") - 1, 0, len(knots) - 1)
        result: FloatArray = np.asarray(self.voltage_V)[k] + (charge_C - knots[k]) * np.asarray(
            self.slope_V_C
        )[k]
        return result

    def voltage_at(self, charge_C: float) -> float:
        return float(self.voltage(np.array([charge_C]))[0])

    def charges(self, voltage_V: FloatArray) -> FloatArray:
        """The inverse of :meth:`voltage`, for voltages ≥ 0."""
        q, v = np.asarray(self.charge_C), np.asarray(self.voltage_V)
        beyond = q[-1] + (voltage_V - v[-1]) / self.slope_V_C[-1]
        result: FloatArray = np.where(voltage_V > v[-1], beyond, np.interp(voltage_V, v, q))
        return result

    def charge_at(self, voltage_V: float) -> float:
        last = len(self.charge_C) - 1
        for k in range(last + 1):
            if k == last or voltage_V <= self.voltage_V[k + 1]:
                return self.charge_C[k] + (voltage_V - self.voltage_V[k]) / self.slope_V_C[k]
        raise AssertionError("unreachable")

    def segment(self, charge_C: float, upward: bool) -> int:
        """The segment a charge moving up (or down) from ``charge_C`` is on."""
        find = bisect.bisect_right if upward else bisect.bisect_left
        return min(max(find(self.charge_C, charge_C) - 1, 0), len(self.charge_C) - 1)


class LiCuCell(LiMetalCell):
    """The cell; its state is (inventory, bare-Cu charge, nucleation time, dead Li, SEI
    charge still to form)."""

    def __init__(self, params: LiCuParameters) -> None:
        self.params = params
        self.common = params.common
        self._short = params.common.short
        self._temperature_K = params.common.temperature_K
        self._cu = BareCu.for_area(params.common.area_m2, params.sei_voltage_V)
        self._sei_knee_C = self._cu.charge_at(params.sei_voltage_V)
        self._row = np.zeros(7)
        self._row[BARE] = self._cu.charge_at(params.open_circuit_voltage_V)
        self._row[SEI] = params.sei_charge_C_m2 * params.common.area_m2

    # -- capabilities ----------------------------------------------------------------------

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        common = self.params.common
        z = self.bulk_resistance_ohm + interface_impedance(
            self.interface_resistance_ohm, common.cpe_q, common.cpe_n, frequency_Hz
        )
        return shorted_in_parallel(z, common.short_resistance_ohm) if self.shorted else z

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
        """R_ct: plating and stripping's linear interfacial overpotential per ampere."""
        return self.params.interface_resistance_ohm_m2 / self.params.common.area_m2

    @property
    def lithium_on_cu_C(self) -> float:
        """The inventory: Li on the Cu that can still be stripped."""
        return float(self._row[LI])

    @property
    def dead_lithium_C(self) -> float:
        return float(self._row[DEAD])

    @property
    def sei_to_form_C(self) -> float:
        """The SEI charge the fresh Cu has still to take on its first plating."""
        return float(self._row[SEI])

    @property
    def open_circuit_voltage_V(self) -> float:
        return 0.0 if self._row[LI] > 0 else self._cu.voltage_at(float(self._row[BARE]))

    @property
    def shorted(self) -> bool:
        return bool(self._row[SHORTED] > 0)

    @property
    def time_at_ccd_s(self) -> float:
        return float(self._row[CLOCK])

    def nucleation_dip_V(self, s: FloatArray) -> FloatArray:
        """η_n·sech²(s/w), s seconds after Li began to nucleate on bare Cu."""
        p = self.params
        x = np.abs(s) / (p.nucleation_time_s / 3)
        e = np.exp(-2 * x)
        result: FloatArray = p.nucleation_overpotential_V * 4 * e / (1 + e) ** 2
        return result

    # -- the regimes -----------------------------------------------------------------------

    def _galvanostatic(self, current_A: float, row: FloatArray) -> Piece:
        model = row[:CLOCK]
        inventory, bare = float(row[LI]), float(row[BARE])
        if row[SHORTED] > 0:
            return steady(current_A * self.params.common.short_resistance_ohm, current_A, model)
        if current_A == 0:
            return self._rest(model) if inventory <= 0 else steady(0.0, 0.0, model)
        resistive = current_A * (self.bulk_resistance_ohm + self.interface_resistance_ohm)
        if current_A < 0 and inventory <= 0 and row[SEI] > 0:
            return self._form_sei(current_A, resistive, model)
        if current_A > 0 and inventory > 0:  # stripping Li off the Cu

            def strip(u: FloatArray) -> Response:
                left = np.maximum(inventory - current_A * u, 0.0)
                return self._response(np.full(len(u), resistive), current_A, u, model, LI, left)

            return Piece(strip, inventory / current_A, _bare_again)
        if inventory <= 0:  # bare Cu: its surface charges (I > 0) or discharges to 0 V

            def charge_cu(u: FloatArray) -> Response:
                on_cu = np.maximum(bare + current_A * u, 0.0)
                voltage = resistive + self._cu.voltage(on_cu)
                return self._response(voltage, current_A, u, model, BARE, on_cu)

            if current_A > 0:
                return Piece(charge_cu)
            if bare > 0:  # Li leaves the foil but none is deposited yet: no dendrite
                return Piece(charge_cu, bare / -current_A, _bare_again, grows_dendrites=False)
        return self._plate(current_A, resistive, model)

    def _rest(self, model: FloatArray) -> Piece:
        """Bare Cu at rest drifts back towards the open-circuit voltage with τ =
        ``relaxation_time`` (the charge left on it after a strip leaks away)."""
        p = self.params
        start = self._cu.voltage_at(float(model[BARE]))
        rest = p.open_circuit_voltage_V
        if start == rest:
            return steady(start, 0.0, model)

        def relax(u: FloatArray) -> Response:
            voltage = rest + (start - rest) * np.exp(-u / p.relaxation_time_s)
            n = len(u)
            state = np.tile(model, (n, 1))
            state[:, BARE] = self._cu.charges(voltage)
            return Response(voltage, np.zeros(n), np.zeros(n), state)

        return Piece(relax)

    def _form_sei(self, current_A: float, resistive: float, model: FloatArray) -> Piece:
        """Fresh Cu driven down: its charge falls to the SEI knee, where the electrolyte is
        reduced (a plateau) until the SEI charge is spent; then on as bare Cu."""
        bare, sei = float(model[BARE]), float(model[SEI])
        knee = self._sei_knee_C
        if bare > knee * (1 + _AT_KNEE):

            def discharge(u: FloatArray) -> Response:
                on_cu = bare + current_A * u
                voltage = resistive + self._cu.voltage(on_cu)
                return self._response(voltage, current_A, u, model, BARE, on_cu)

            return Piece(
                discharge, (bare - knee) / -current_A, _at_charge(BARE, knee),
                grows_dendrites=False,
            )
        plateau = resistive + self._cu.voltage_at(bare)

        def reduce(u: FloatArray) -> Response:
            left = np.maximum(sei + current_A * u, 0.0)
            return self._response(np.full(len(u), plateau), current_A, u, model, SEI, left)

        return Piece(reduce, sei / -current_A, _at_charge(SEI, 0.0), grows_dendrites=False)

    def _plate(self, current_A: float, resistive: float, model: FloatArray) -> Piece:
        ce = self.params.coulombic_efficiency
        inventory, dead, s0 = float(model[LI]), float(model[DEAD]), float(model[NUCLEATION])

        def plate(u: FloatArray) -> Response:
            plated = -current_A * u
            state = np.tile(model, (len(u), 1))
            state[:, LI] = inventory + ce * plated
            state[:, DEAD] = dead + (1 - ce) * plated
            state[:, NUCLEATION] = s0 + u
            voltage = resistive - self.nucleation_dip_V(s0 + u)
            return Response(voltage, np.full(len(u), current_A), current_A * u, state)

        return Piece(plate)

    def _potentiostatic(self, voltage_V: float, row: FloatArray) -> Piece:
        model = row[:CLOCK]
        if row[SHORTED] > 0:
            return steady(voltage_V, voltage_V / self.params.common.short_resistance_ohm, model)
        resistance = self.bulk_resistance_ohm + self.interface_resistance_ohm
        inventory = float(row[LI])
        if inventory > 0 and voltage_V >= 0:  # stripping at a constant current
            current = voltage_V / resistance
            if current == 0:
                return steady(voltage_V, 0.0, model)

            def strip(u: FloatArray) -> Response:
                left = np.maximum(inventory - current * u, 0.0)
                return self._response(np.full(len(u), voltage_V), current, u, model, LI, left)

            return Piece(strip, inventory / current, _bare_again)
        if inventory <= 0 and row[SEI] > 0:
            bare = float(row[BARE])
            now = self._cu.voltage_at(bare)
            if voltage_V < now and bare <= self._sei_knee_C * (1 + _AT_KNEE):
                return self._form_sei_at(voltage_V, now, resistance, model)
        if inventory <= 0 and (voltage_V >= 0 or row[BARE] > 0):
            return self._charge_bare_cu(voltage_V, resistance, model)
        return self._plate_at(voltage_V, resistance, model)

    def _charge_bare_cu(self, voltage_V: float, resistance: float, model: FloatArray) -> Piece:
        """Bare Cu held at V through R: on each linear segment an RC charge, exactly."""
        cu = self._cu
        q0 = float(model[BARE])
        now = cu.voltage_at(q0)
        if voltage_V == now:
            return steady(voltage_V, 0.0, model)
        upward = voltage_V > now
        k = cu.segment(q0, upward)
        slope = cu.slope_V_C[k]
        target = cu.charge_C[k] + (voltage_V - cu.voltage_V[k]) / slope  # on this line
        rate = slope / resistance
        duration, boundary = math.inf, q0
        if upward and k + 1 < len(cu.charge_C) and target > cu.charge_C[k + 1]:
            boundary = cu.charge_C[k + 1]
            duration = math.log((target - q0) / (target - boundary)) / rate
        elif not upward and target < cu.charge_C[k]:
            boundary = cu.charge_C[k]
            duration = math.log((q0 - target) / (boundary - target)) / rate

        def respond(u: FloatArray) -> Response:
            moved = (target - q0) * -np.expm1(-rate * u)
            state = np.tile(model, (len(u), 1))
            state[:, BARE] = q0 + moved
            current = rate * (target - q0) * np.exp(-rate * u)
            return Response(np.full(len(u), voltage_V), current, moved, state)

        def at_knot(end: FloatArray) -> FloatArray:
            row = end.copy()
            row[BARE] = boundary
            return row

        return Piece(respond, duration, at_knot)

    def _form_sei_at(
        self, voltage_V: float, now_V: float, resistance: float, model: FloatArray
    ) -> Piece:
        """Held below the SEI's formation voltage: a constant current reduces the
        electrolyte until the SEI charge is spent."""
        current = (voltage_V - now_V) / resistance
        sei = float(model[SEI])

        def reduce(u: FloatArray) -> Response:
            left = np.maximum(sei + current * u, 0.0)
            return self._response(np.full(len(u), voltage_V), current, u, model, SEI, left)

        return Piece(reduce, sei / -current, _at_charge(SEI, 0.0), grows_dendrites=False)

    def _plate_at(self, voltage_V: float, resistance: float, model: FloatArray) -> Piece:
        """Plating under a held V < 0: I = (V + dip(s))/R, once V is past the nucleation
        barrier; short of it, no nucleus forms and no current flows."""
        p = self.params
        s0 = float(model[NUCLEATION])
        if voltage_V + float(self.nucleation_dip_V(np.array([s0]))[0]) >= 0:
            return steady(voltage_V, 0.0, model)
        ce, w = p.coulombic_efficiency, p.nucleation_time_s / 3
        inventory, dead = float(model[LI]), float(model[DEAD])

        def respond(u: FloatArray) -> Response:
            s = s0 + u
            current = (voltage_V + self.nucleation_dip_V(s)) / resistance
            dip_integral = p.nucleation_overpotential_V * w * (np.tanh(s / w) - math.tanh(s0 / w))
            charge = (voltage_V * u + dip_integral) / resistance
            state = np.tile(model, (len(u), 1))
            state[:, LI] = inventory - ce * charge
            state[:, DEAD] = dead - (1 - ce) * charge
            state[:, NUCLEATION] = s
            return Response(np.full(len(u), voltage_V), current, charge, state)

        return Piece(respond)

    @staticmethod
    def _response(
        voltage: FloatArray, current_A: float, u: FloatArray, model: FloatArray,
        column: int, values: FloatArray,
    ) -> Response:
        state = np.tile(model, (len(u), 1))
        state[:, column] = values
        return Response(voltage, np.full(len(u), current_A), current_A * u, state)


def _bare_again(row: FloatArray) -> FloatArray:
    """The Li (or the bare Cu's charge) is gone: bare Cu at 0 V, ready to nucleate anew."""
    bare = np.zeros_like(row)
    bare[DEAD] = row[DEAD]
    bare[SEI] = row[SEI]
    return bare


def _at_charge(column: int, value: float) -> Callable[[FloatArray], FloatArray]:
    """A regime's end: ``column`` exactly at ``value`` (no rounding left over)."""

    def after(row: FloatArray) -> FloatArray:
        end = row.copy()
        end[column] = value
        return end

    return after


def li_cu(cell: CellSummary) -> LiCuCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    return LiCuCell(LiCuParameters.from_cell(cell))
