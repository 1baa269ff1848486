"""Rate capability of a half-cell (kind ``rate-capability``).

Method: cycles at a series of C-rates, then the first rate again. Each discharge step
(negative current) is put at C-rate |I| / nominal capacity (|I| the median of its points),
snapped to the nearest entry of the ``rates`` parameter; consecutive discharges at the same
rate form a group, so the return to the first rate is a group of its own. Per group, the
mean discharge capacity, in mAh/g with an active mass (and always in mAh).

Results: the table ``rate_capability`` [{rate_C, cycles, cycle_numbers, discharge_mAh_g,
discharge_mAh, coulombic_efficiency (discharge / charge of the same cycle, the group's mean),
retention_pct_of_slowest (the group's mean discharge as % of the slowest rate's first group)}];
per rate, from its first group, ``discharge_mAh_g_<rate>C`` (or
``discharge_mAh_<rate>C`` without a mass) with the rate written 0p1, 0p2, 0p5, 1, 2;
``capacity_recovery`` = the last group at the first rate / the first group at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyclerctl.analysis.run import RunData, median_abs_current_A, parse_value
from cyclerctl.store import Result

ANALYSIS_VERSION = "rate-capability/2"


def rate_label(rate_C: float) -> str:
    """0.1 → "0p1", 2 → "2", 0.05 → "0p05": a C-rate as part of a result name."""
    return f"{rate_C:g}".replace(".", "p")


def snap(rate_C: float, rates: list[float]) -> float:
    """The entry of ``rates`` nearest to ``rate_C`` on a log scale (rates are spaced by
    factors, not steps); ``rate_C`` to 3 significant figures without a list."""
    if not rates:
        return float(f"{rate_C:.3g}")
    logs = np.abs(np.log(np.array(rates)) - np.log(rate_C))
    return rates[int(np.argmin(logs))]


@dataclass(slots=True)
class RateGroup:
    rate_C: float
    discharge_Ah: list[float] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    @property
    def mean_Ah(self) -> float:
        return sum(self.discharge_Ah) / len(self.discharge_Ah)


def group_discharges(run: RunData, capacity_Ah: float, rates: list[float]) -> list[RateGroup]:
    groups: list[RateGroup] = []
    for s in run.steps:
        if s.discharge_Ah <= 0 or s.discharge_Ah <= s.charge_Ah:
            continue  # not a discharge step
        current = median_abs_current_A(run, s)
        if not current:
            continue
        rate = snap(current / capacity_Ah, rates)
        if not groups or groups[-1].rate_C != rate:
            groups.append(RateGroup(rate))
        groups[-1].discharge_Ah.append(s.discharge_Ah)
        groups[-1].cycles.append(s.cycle)
        groups[-1].steps.append(s.step)
    return groups


def charge_by_cycle(run: RunData) -> dict[int, float]:
    """Charge (Ah) put in per cycle: the sum over its charge steps."""
    out: dict[int, float] = {}
    for s in run.steps:
        if s.charge_Ah > s.discharge_Ah:
            out[s.cycle] = out.get(s.cycle, 0.0) + s.charge_Ah
    return out


def _rates(run: RunData) -> list[float]:
    raw = run.parameters.get("rates", run.options.get("rates")) or []
    parsed = (parse_value(r, "c_rate") for r in (raw if isinstance(raw, list) else [raw]))
    return [r for r in parsed if r is not None and r > 0]


def analyse_rate_capability(run: RunData) -> dict[str, Result]:
    cell = run.cell
    capacity = cell.nominal_capacity_Ah
    if not capacity and cell.active_mass_kg and cell.specific_capacity_Ah_kg:
        capacity = cell.active_mass_kg * cell.specific_capacity_Ah_kg
    if not capacity:
        return {}
    groups = group_discharges(run, capacity, _rates(run))
    if not groups:
        return {}
    mass_g = cell.active_mass_kg * 1e3 if cell.active_mass_kg else None
    table: list[dict[str, Any]] = []
    results: dict[str, Result] = {}
    charge = charge_by_cycle(run)
    slowest = min(groups, key=lambda g: (g.rate_C, groups.index(g)))
    for g in groups:
        mAh = g.mean_Ah * 1e3
        mAh_g = mAh / mass_g if mass_g else None
        ces = [
            q / charge[c] for q, c in zip(g.discharge_Ah, g.cycles, strict=True) if charge.get(c)
        ]
        table.append(
            {
                "rate_C": g.rate_C,
                "cycles": len(g.cycles),
                "cycle_numbers": g.cycles,
                "discharge_mAh_g": mAh_g,
                "discharge_mAh": mAh,
                "coulombic_efficiency": sum(ces) / len(ces) if ces else None,
                "retention_pct_of_slowest": 100.0 * g.mean_Ah / slowest.mean_Ah,
            }
        )
        name = f"discharge_mAh_g_{rate_label(g.rate_C)}C" if mass_g else None
        name = name or f"discharge_mAh_{rate_label(g.rate_C)}C"
        if name not in results:  # a rate's first group
            results[name] = Result(
                value=mAh_g if mAh_g is not None else mAh,
                unit="mAh/g" if mass_g else "mAh",
                source={"steps": g.steps, "cycles": g.cycles, "rate_C": g.rate_C},
            )
    steps = [s for g in groups for s in g.steps]
    results["rate_capability"] = Result(
        data=table,
        source={
            "steps": [steps[0], steps[-1]],
            "capacity_Ah_for_1C": capacity,
            "coulombic_efficiency": "discharge / charge of the same cycle, mean over the group",
            "retention_pct_of_slowest": f"mean discharge / that of the first {slowest.rate_C:g}C "
            "group x 100",
        },
    )
    first = groups[0]
    later = [g for g in groups[1:] if g.rate_C == first.rate_C]
    if later:
        results["capacity_recovery"] = Result(
            value=later[-1].mean_Ah / first.mean_Ah,
            unit="1",
            source={"rate_C": first.rate_C, "steps": [first.steps[0], later[-1].steps[-1]]},
        )
    return results
