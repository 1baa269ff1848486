"""Galvanostatic cycling results: the per-cycle table a paper reports, and its summary.

Computed from the per-step charge, discharge and energy totals the engine (or an importer)
records, integrated from every measured point, not only the stored ones. A cycle is what
the protocol's loops (or EC-Lab's ``cycle number``) call one; which of its halves is the
"charge" follows the working electrode (:mod:`.electrode`): positive current for a
cathode half cell, negative current (lithiation) for an anode half cell.

Per-cycle table (result ``cycles``, one row per complete cycle, :data:`COLUMNS`):

- capacities in mAh, per gram of active material (``mAh_g``) and per cm² of electrode;
- energies ∫V dQ of each half in mWh, the discharge energy per kg of active material;
- ``coulombic_efficiency`` = discharge / charge capacity of the same cycle;
- ``energy_efficiency`` = energy the half cell gives (negative-current half) / energy it
  takes (positive-current half);
- mean voltages = energy / capacity of each half (∫V dQ / ∫dQ); ``voltage_hysteresis_V`` =
  mean V of the positive-current half − mean V of the negative-current half (> 0);
- ``cv_charge_fraction``: share of the charge capacity passed at constant voltage: all of
  a ``cv`` step, and of a ``cccv`` step what passed from the first stored point after which
  |I| stays below 98 % of its constant current (the median |I| of the step's first half);
- ``retention`` = discharge capacity / that of the reference cycle, the first cycle after
  the formation cycles (cycle 1 when there are none).

Run results: ``first_cycle_ce`` (first complete cycle), ``capacity_retention`` (last /
reference), ``mean_ce`` (cycles after formation; all when there are none),
``cycle_at_80pct_retention`` (first cycle after the reference below 80 %; None while it
has not), and ``cycles_metadata`` (the conventions above, the cell's role, the cycles left
out). Only complete cycles (some charge and some discharge) make rows; cycle 0, before any
loop, is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis.electrode import ElectrodeRole, working_electrode
from cyclerctl.analysis.run import RunData
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "cycling/2"
COLUMNS = (
    "cycle", "charge_capacity_mAh", "discharge_capacity_mAh", "charge_capacity_mAh_g",
    "discharge_capacity_mAh_g", "discharge_capacity_mAh_cm2", "charge_energy_mWh",
    "discharge_energy_mWh", "discharge_energy_Wh_kg", "coulombic_efficiency",
    "energy_efficiency", "mean_charge_voltage_V", "mean_discharge_voltage_V",
    "voltage_hysteresis_V", "cv_charge_fraction", "retention",
)  # fmt: skip
UNITS = {
    "cycle": "1", "charge_capacity_mAh": "mAh", "discharge_capacity_mAh": "mAh",
    "charge_capacity_mAh_g": "mAh/g", "discharge_capacity_mAh_g": "mAh/g",
    "discharge_capacity_mAh_cm2": "mAh/cm2", "charge_energy_mWh": "mWh",
    "discharge_energy_mWh": "mWh", "discharge_energy_Wh_kg": "Wh/kg",
    "coulombic_efficiency": "1", "energy_efficiency": "1", "mean_charge_voltage_V": "V",
    "mean_discharge_voltage_V": "V", "voltage_hysteresis_V": "V", "cv_charge_fraction": "1",
    "retention": "1",
}  # fmt: skip
#: a cccv step is at constant voltage once |I| stays below this share of its CC current
CV_CURRENT_SHARE = 0.98
RETENTION_LIMIT = 0.80


@dataclass(frozen=True, slots=True)
class CycleTotals:
    """Charge and energy of one cycle by the current's sign (positive = oxidation)."""

    cycle: int
    charge_Ah: float  # positive current
    discharge_Ah: float  # negative current
    charge_Wh: float
    discharge_Wh: float
    first_step: int
    last_step: int

    @property
    def ce(self) -> float | None:
        return self.discharge_Ah / self.charge_Ah if self.charge_Ah > 0 else None

    @property
    def complete(self) -> bool:
        return self.charge_Ah > 0 and self.discharge_Ah > 0


def cycle_totals(steps: Iterable[StepRecord]) -> list[CycleTotals]:
    """Charge and discharge per cycle number (cycle 0, before any loop, is left out)."""
    totals: dict[int, tuple[float, float, float, float]] = {}
    span: dict[int, tuple[int, int]] = {}
    for s in steps:
        if s.cycle <= 0:
            continue
        q_in, q_out, e_in, e_out = totals.get(s.cycle, (0.0, 0.0, 0.0, 0.0))
        totals[s.cycle] = (
            q_in + s.charge_Ah,
            q_out + s.discharge_Ah,
            e_in + s.charge_Wh,
            e_out + s.discharge_Wh,
        )
        first, last = span.get(s.cycle, (s.step, s.step))
        span[s.cycle] = (min(first, s.step), max(last, s.step))
    return [CycleTotals(c, *totals[c], *span[c]) for c in sorted(totals)]


def cv_phase_start(rows: Any) -> int | None:
    """Index of the first stored point of a cccv step's constant-voltage phase, or None.

    The CC current is the median |I| of the step's first half; the CV phase begins at the
    first point after which |I| stays below :data:`CV_CURRENT_SHARE` of it.
    """
    n = int(rows.size)
    if n < 3:
        return None
    current = np.abs(rows["I"])
    i_cc = float(np.median(current[: max(1, n // 2)]))
    if i_cc <= 0:
        return None
    above = np.flatnonzero(current >= CV_CURRENT_SHARE * i_cc)
    start = int(above[-1]) + 1 if above.size else 0
    return start if start < n else None


class _StepPoints:
    """The stored points of any step by one binary search (one sort of the run's points),
    not one scan of every point per step: a 1000-cycle run has 2000 cccv steps."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.order = np.argsort(run.samples["step"], kind="stable")
        self.keys = run.samples["step"][self.order]

    def __call__(self, step: StepRecord) -> Any:
        lo, hi = np.searchsorted(self.keys, [step.step, step.step + 1])
        rows = self.run.samples[self.order[lo:hi]]
        return rows[np.argsort(rows["seq"], kind="stable")]


def _cv_charge_Ah(points: _StepPoints, step: StepRecord, total_Ah: float) -> float:
    if step.kind == "cv":
        return total_Ah
    if step.kind != "cccv":
        return 0.0
    rows = points(step)
    start = cv_phase_start(rows)
    if start is None:
        return 0.0
    before = abs(float(rows["Q"][start - 1])) / 3600.0 if start > 0 else 0.0
    return max(0.0, total_Ah - before)


def _cv_fractions(
    run: RunData, role: ElectrodeRole, charge_Ah: dict[int, float]
) -> dict[int, float]:
    """Share of each cycle's charge capacity passed at constant voltage."""
    cv: dict[int, float] = {}
    points = _StepPoints(run)
    for s in run.steps:
        if s.cycle <= 0 or s.kind not in ("cv", "cccv"):
            continue
        total = s.charge_Ah if role.charge_sign > 0 else s.discharge_Ah
        if total > 0:
            cv[s.cycle] = cv.get(s.cycle, 0.0) + _cv_charge_Ah(points, s, total)
    return {c: q / charge_Ah[c] for c, q in cv.items() if charge_Ah.get(c)}


def _cycle_order(run: RunData, role: ElectrodeRole, cycles: Sequence[int]) -> str:
    """Whether each cycle's charge comes before its discharge (as its CE assumes)."""
    orders: set[str] = set()
    wanted = set(cycles)
    first: dict[int, dict[int, int]] = {}
    for s in run.steps:
        if s.cycle in wanted:
            for sign, q in ((1, s.charge_Ah), (-1, s.discharge_Ah)):
                if q > 0:
                    first.setdefault(s.cycle, {}).setdefault(sign, s.step)
    for signs in first.values():
        if len(signs) == 2:
            charge_first = signs[role.charge_sign] < signs[-role.charge_sign]
            orders.add("charge then discharge" if charge_first else "discharge then charge")
    return " / ".join(sorted(orders)) or "none"


def _div(a: float, b: float | None) -> float | None:
    return a / b if b else None


def cycle_rows(run: RunData) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The per-cycle table (rows with :data:`COLUMNS`) and its metadata."""
    role = working_electrode(run.cell.chemistry, run.options)
    totals = cycle_totals(run.steps)
    cycles = [c for c in totals if c.complete]
    formation = int(run.options.get("formation_cycles", 0) or 0)
    mass_g = run.cell.active_mass_kg * 1e3 if run.cell.active_mass_kg else None
    area_cm2 = run.cell.area_m2 * 1e4 if run.cell.area_m2 else None
    by_sign = {
        c.cycle: {1: (c.charge_Ah, c.charge_Wh), -1: (c.discharge_Ah, c.discharge_Wh)}
        for c in cycles
    }
    charge_Ah = {c: v[role.charge_sign][0] for c, v in by_sign.items()}
    cv = _cv_fractions(run, role, charge_Ah)
    after = [c for c in cycles if c.cycle > formation] or cycles
    reference = after[0].cycle if after else None
    ref_q = by_sign[reference][-role.charge_sign][0] if reference is not None else None
    rows: list[dict[str, Any]] = []
    for c in cycles:
        q_in, e_in = by_sign[c.cycle][role.charge_sign]
        q_out, e_out = by_sign[c.cycle][-role.charge_sign]
        (q_ox, e_ox), (q_red, e_red) = by_sign[c.cycle][1], by_sign[c.cycle][-1]
        v_ox, v_red = _div(e_ox, q_ox), _div(e_red, q_red)
        rows.append(
            {
                "cycle": c.cycle,
                "charge_capacity_mAh": q_in * 1e3,
                "discharge_capacity_mAh": q_out * 1e3,
                "charge_capacity_mAh_g": _div(q_in * 1e3, mass_g),
                "discharge_capacity_mAh_g": _div(q_out * 1e3, mass_g),
                "discharge_capacity_mAh_cm2": _div(q_out * 1e3, area_cm2),
                "charge_energy_mWh": e_in * 1e3,
                "discharge_energy_mWh": e_out * 1e3,
                "discharge_energy_Wh_kg": _div(e_out, mass_g * 1e-3 if mass_g else None),
                "coulombic_efficiency": _div(q_out, q_in),
                "energy_efficiency": _div(e_red, e_ox),
                "mean_charge_voltage_V": _div(e_in, q_in),
                "mean_discharge_voltage_V": _div(e_out, q_out),
                "voltage_hysteresis_V": (
                    v_ox - v_red if v_ox is not None and v_red is not None else None
                ),
                "cv_charge_fraction": cv.get(c.cycle, 0.0),
                "retention": _div(q_out, ref_q),
            }
        )
    metadata: dict[str, Any] = {
        **role.describe(),
        "coulombic_efficiency": "discharge / charge capacity of the same cycle",
        "cycle_order": _cycle_order(run, role, [c.cycle for c in cycles]),
        "cycle_numbering": _numbering(run),
        "formation_cycles": [c.cycle for c in cycles if c.cycle <= formation],
        "reference_cycle": reference,
        "retention": "discharge capacity / that of the reference cycle",
        "incomplete_cycles_left_out": [c.cycle for c in totals if not c.complete],
        "specific_per": (
            f"active material, {mass_g:.6g} g" if mass_g else "no active mass given: None"
        ),
        "areal_per": f"electrode area, {area_cm2:.6g} cm2" if area_cm2 else "no area: None",
        "energy_efficiency": "energy out of the half cell (negative current) / energy in",
        "voltage_hysteresis": "mean V of the positive-current half - of the negative one",
        "cv_charge_fraction": (
            "all of a cv step; of a cccv step, from the first stored point after which |I| "
            f"stays below {CV_CURRENT_SHARE:.0%} of its CC current (median |I|, first half)"
        ),
        "columns": list(COLUMNS),
        "units": UNITS,
    }
    return rows, metadata


def _numbering(run: RunData) -> str:
    definition = run.options.get("cycle_definition")
    if definition:
        return f"EC-Lab cycle number + 1 (Cycle Definition: {definition})"
    return "the protocol's loops (cycle 1 is the first loop pass)"


def retention_crossing(rows: Sequence[dict[str, Any]], reference: int | None) -> int | None:
    """First cycle after ``reference`` whose retention is below :data:`RETENTION_LIMIT`."""
    for row in rows:
        r = row["retention"]
        after = reference is not None and row["cycle"] > reference
        if after and r is not None and r < RETENTION_LIMIT:
            return int(row["cycle"])
    return None


def analyse_cycling(run: RunData) -> dict[str, Result]:
    rows, meta = cycle_rows(run)
    if not rows:
        return {}
    formation = set(meta["formation_cycles"])
    after = [r for r in rows if r["cycle"] not in formation] or rows
    first, last = rows[0], rows[-1]
    span = {"steps": [min(s.step for s in run.steps), max(s.step for s in run.steps)]}
    reference = meta["reference_cycle"]
    crossing = retention_crossing(rows, reference)
    ces = [r["coulombic_efficiency"] for r in after if r["coulombic_efficiency"] is not None]
    results: dict[str, Result] = {
        "cycles": Result(data=rows, source={**span, "cycles": [r["cycle"] for r in rows]}),
        "cycles_metadata": Result(data=meta, source={"analysis": ANALYSIS_VERSION}),
        "cycles_completed": Result(value=float(len(rows)), unit="1", source=span),
        "first_discharge_capacity_mAh": Result(
            value=first["discharge_capacity_mAh"], unit="mAh", source={"cycle": first["cycle"]}
        ),
        "first_cycle_ce": Result(
            value=first["coulombic_efficiency"], unit="1", source={"cycle": first["cycle"]}
        ),
        "mean_ce": Result(
            value=math.fsum(ces) / len(ces) if ces else None,
            unit="1",
            source={"cycles": [after[0]["cycle"], after[-1]["cycle"]]},
        ),
        "cycle_at_80pct_retention": Result(
            value=None if crossing is None else float(crossing),
            unit="1",
            source={
                "reference_cycle": reference,
                "note": "not reached" if crossing is None else "first cycle below 80 %",
                "last_cycle": last["cycle"],
            },
        ),
    }
    if first["discharge_capacity_mAh_g"] is not None:
        results["first_discharge_capacity_mAh_g"] = Result(
            value=first["discharge_capacity_mAh_g"], unit="mAh/g", source={"cycle": first["cycle"]}
        )
    if len(after) >= 2:
        results["capacity_retention"] = Result(
            value=after[-1]["retention"],
            unit="1",
            source={"first_cycle": reference, "last_cycle": after[-1]["cycle"]},
        )
    return results
