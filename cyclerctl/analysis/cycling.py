"""Galvanostatic cycling results: capacity per cycle, Coulombic efficiency, retention.

Computed from the per-step charge and discharge totals the engine records (integrated from
every measured point, not only the stored ones). For a cathode-vs-Li half-cell a cycle is
charge then discharge, so CE = discharge / charge of the same cycle.

Run results:
- ``first_discharge_capacity_mAh_g``: discharge capacity of cycle 1 per gram of active mass;
- ``capacity_retention``: last / first discharge capacity after the formation cycles;
- ``mean_ce``: mean CE of the cycles after formation (all cycles when there is none);
- ``cycles``: the per-cycle table.
Only complete cycles (some charge and some discharge) count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cyclerctl.analysis.run import RunData
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "cycling/1"


@dataclass(frozen=True, slots=True)
class CycleTotals:
    cycle: int
    charge_Ah: float
    discharge_Ah: float
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


def analyse_cycling(run: RunData) -> dict[str, Result]:
    cell = run.cell
    cycles = [c for c in cycle_totals(run.steps) if c.complete]
    if not cycles:
        return {}
    formation = int(run.options.get("formation_cycles", 0) or 0)
    after = [c for c in cycles if c.cycle > formation] or cycles
    mass_g = cell.active_mass_kg * 1000.0 if cell.active_mass_kg else None
    table = [
        {
            "cycle": c.cycle,
            "charge_mAh": c.charge_Ah * 1e3,
            "discharge_mAh": c.discharge_Ah * 1e3,
            "charge_mAh_g": c.charge_Ah * 1e3 / mass_g if mass_g else None,
            "discharge_mAh_g": c.discharge_Ah * 1e3 / mass_g if mass_g else None,
            "ce": c.ce,
            "charge_Wh": c.charge_Wh,
            "discharge_Wh": c.discharge_Wh,
            "formation": c.cycle <= formation,
        }
        for c in cycles
    ]
    steps_span = {"steps": [cycles[0].first_step, cycles[-1].last_step]}
    results: dict[str, Result] = {
        "cycles": Result(data=table, source={**steps_span, "cycles": [c.cycle for c in cycles]}),
        "cycles_completed": Result(value=float(len(cycles)), unit="1", source=steps_span),
        "first_discharge_capacity_mAh": Result(
            value=cycles[0].discharge_Ah * 1e3, unit="mAh", source={"cycle": cycles[0].cycle}
        ),
        "mean_ce": Result(
            value=sum(c.ce or 0.0 for c in after) / len(after),
            unit="1",
            source={"cycles": [after[0].cycle, after[-1].cycle]},
        ),
    }
    if mass_g:
        results["first_discharge_capacity_mAh_g"] = Result(
            value=cycles[0].discharge_Ah * 1e3 / mass_g,
            unit="mAh/g",
            source={"cycle": cycles[0].cycle},
        )
    if len(after) >= 2:
        results["capacity_retention"] = Result(
            value=after[-1].discharge_Ah / after[0].discharge_Ah,
            unit="1",
            source={"first_cycle": after[0].cycle, "last_cycle": after[-1].cycle},
        )
    return results
