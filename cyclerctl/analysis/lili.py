"""Galvanostatic Li | electrolyte | Li cycling (kind ``li-li-cycling``).

Method: strip and plate a fixed areal capacity at a fixed current density until the cycle
count or a short. The overpotential of a half-cycle is the median |V| of its points (the
cell voltage of a symmetric cell *is* the overpotential; the median ignores the first-point
spike and the end). See e.g. Lu et al., Nat. Mater. 13 (2014) 961 for the cell and its read-out.

Half-cycles are the ``cc`` steps inside the cycling loop (cycle ≥ 1): a strip has positive
current (charge), a plate negative. A cycle is complete when it has both and neither was
cut short (short, safety, operator…). Results: ``cycles_completed``; ``mean_overpotential_mV``
(mean over the half-cycles that did not short); ``short_at_h`` (absent without a short);
the table ``overpotential_by_cycle`` [{cycle, strip_mV, plate_mV, mean_mV, complete}].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cyclerctl.analysis.run import RunData, first_short, is_abnormal, step_end_s, step_samples
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "li-li-cycling/1"


def half_cycle_overpotential_mV(V: np.ndarray[Any, Any]) -> float | None:
    return float(np.median(np.abs(V))) * 1e3 if V.size else None


def is_strip(step: StepRecord) -> bool:
    return step.charge_Ah > step.discharge_Ah


def analyse_li_li_cycling(run: RunData) -> dict[str, Result]:
    half_cycles = [s for s in run.steps if s.kind == "cc" and s.cycle >= 1]
    if not half_cycles:
        return {}
    by_cycle: dict[int, dict[str, Any]] = {}
    used: list[float] = []
    used_steps: list[int] = []
    for s in half_cycles:
        row = by_cycle.setdefault(
            s.cycle, {"cycle": s.cycle, "strip_mV": None, "plate_mV": None, "complete": True}
        )
        if s.end_reason is None or is_abnormal(s.end_reason):
            row["complete"] = False
        if s.end_reason == "short":
            continue  # the voltage of a shorted step is the short, not the overpotential
        eta = half_cycle_overpotential_mV(step_samples(run, s)["V"])
        if eta is None:
            continue
        row["strip_mV" if is_strip(s) else "plate_mV"] = eta
        used.append(eta)
        used_steps.append(s.step)
    table = []
    for row in by_cycle.values():
        halves = [v for v in (row["strip_mV"], row["plate_mV"]) if v is not None]
        row["complete"] = row["complete"] and len(halves) == 2
        row["mean_mV"] = sum(halves) / len(halves) if halves else None
        table.append(row)
    complete = [row["cycle"] for row in table if row["complete"]]
    steps_span = {"steps": [half_cycles[0].step, half_cycles[-1].step]}
    results = {
        "cycles_completed": Result(
            value=float(len(complete)), unit="1", source={**steps_span, "cycles": complete}
        ),
        "overpotential_by_cycle": Result(data=table, source=steps_span),
    }
    if used:
        results["mean_overpotential_mV"] = Result(
            value=sum(used) / len(used),
            unit="mV",
            source={"steps": used_steps, "half_cycles": len(used), "per_half_cycle": "median |V|"},
        )
    short = first_short(run)
    if short is not None:
        results["short_at_h"] = Result(
            value=step_end_s(run, short) / 3600.0,
            unit="h",
            source={"steps": [short.step], "cycle": short.cycle},
        )
    return results
