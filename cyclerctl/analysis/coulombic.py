"""Average Coulombic efficiency of Li plating/stripping on Cu (kind ``li-cu-ce``).

Method (Adams, Zheng, Ren, Xu & Zhang, Adv. Energy Mater. 8 (2018) 1702097, "method 3"):
after conditioning the Cu, plate a Li reservoir Qt onto it, strip and re-plate a smaller
charge Qc n times, then strip all Li left to a voltage cut-off (Qs). Then

    ce_avg = (Qs + n·Qc) / (Qt + n·Qc)

Plating onto the Cu working electrode is a negative current, so Qt and the cycle plates
are the steps' ``discharge_Ah`` and the strips their ``charge_Ah``. n counts completed
strip + plate pairs. Qc is *measured*: the mean charge of the n cycle plates (the
``cycle_capacity`` parameter × area is reported beside it in the source).

``ce_avg`` is left out, and ``ce_avg_missing_reason`` says why, when the numbers would not
mean an efficiency: the cell shorted (a short's current is not stripped Li), the final strip
is missing or did not end on the voltage cut-off (Li is left on the Cu), or a cycle strip
hit the cut-off (the reservoir ran out, so n·Qc was not cycled). ``conditioning_ce`` is the
strip/plate ratio of the conditioning pair. ``li_cu_cycles`` is the per-cycle table:
for each of the n cycles its strip and plate charges, their ratio, and the strip and plate
overpotentials (median |V|).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cyclerctl.analysis.run import (
    RunData,
    first_short,
    is_abnormal,
    quantity,
    step_samples,
    steps_named,
)
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "li-cu-ce/2"
VOLTAGE_CUTOFF = "limit:voltage"


def average_ce(Qt: float, Qs: float, n: int, Qc: float) -> float:
    """Adams' average CE: (Qs + n·Qc) / (Qt + n·Qc); charges in any one unit."""
    return (Qs + n * Qc) / (Qt + n * Qc)


def completed_pairs(steps: list[StepRecord]) -> tuple[list[tuple[StepRecord, StepRecord]], str]:
    """The strip + plate pairs that ran to their end, and why pairing stopped ("" if not)."""
    pairs: list[tuple[StepRecord, StepRecord]] = []
    strip: StepRecord | None = None
    for s in steps:
        if s.end_reason is None or is_abnormal(s.end_reason):
            return pairs, f"step {s.step} ({s.name!r}) ended on {s.end_reason or 'nothing'}"
        if s.name == "cycle strip":
            if s.end_reason == VOLTAGE_CUTOFF:
                return pairs, f"the Li reservoir ran out in cycle strip step {s.step}"
            strip = s
        elif strip is not None:
            pairs.append((strip, s))
            strip = None
    return pairs, ""


def _missing(reason: str, source: dict[str, Any]) -> dict[str, Result]:
    return {"ce_avg_missing_reason": Result(value=None, data=reason, source=source)}


def _ce_avg(run: RunData) -> dict[str, Result]:
    short = first_short(run)
    if short is not None:
        reason = f"the cell shorted in step {short.step} ({short.name!r})"
        return _missing(reason, {"steps": [short.step], "end_reason": run.end_reason})
    reservoir = steps_named(run, "reservoir plate")
    if not reservoir or reservoir[0].discharge_Ah <= 0:
        return _missing("no reservoir was plated", {})
    qt_step = reservoir[0]
    pairs, stop = completed_pairs(steps_named(run, "cycle strip", "cycle plate"))
    if stop:
        return _missing(stop, {"steps": [qt_step.step]})
    finals = steps_named(run, "final strip")
    if not finals:
        return _missing(f"no final strip (the run ended: {run.end_reason})", {})
    final = finals[0]
    if final.end_reason != VOLTAGE_CUTOFF:
        reason = f"the final strip ended on {final.end_reason}, not on the voltage cut-off"
        return _missing(reason, {"steps": [final.step]})
    n = len(pairs)
    qc_Ah = sum(p.discharge_Ah for _, p in pairs) / n if n else 0.0
    ce = average_ce(qt_step.discharge_Ah, final.charge_Ah, n, qc_Ah)
    area_charge = quantity(run, "cycle_capacity", "areal_charge")
    source: dict[str, Any] = {
        "steps": [qt_step.step, *[s.step for pair in pairs for s in pair], final.step],
        "n": n,
        "Qt_mAh": qt_step.discharge_Ah * 1e3,
        "Qs_mAh": final.charge_Ah * 1e3,
        "Qc_mAh": qc_Ah * 1e3,
        "Qc": "measured: mean charge of the n cycle plates",
    }
    if area_charge is not None:
        source["Qc_parameter_mAh"] = area_charge * run.cell.area_m2 / 3.6
    return {
        "ce_avg": Result(value=ce, unit="1", source=source),
        "cycles_completed": Result(value=float(n), unit="1", source={"n": n}),
        "reservoir_charge_mAh": Result(
            value=qt_step.discharge_Ah * 1e3, unit="mAh", source={"steps": [qt_step.step]}
        ),
        "final_strip_charge_mAh": Result(
            value=final.charge_Ah * 1e3, unit="mAh", source={"steps": [final.step]}
        ),
    }


def _conditioning(run: RunData) -> dict[str, Result]:
    plates = steps_named(run, "conditioning plate")
    strips = steps_named(run, "conditioning strip")
    if not plates or not strips or plates[0].discharge_Ah <= 0:
        return {}
    plate, strip = plates[0], strips[0]
    if is_abnormal(plate.end_reason) or is_abnormal(strip.end_reason) or strip.end_reason is None:
        return {}
    # the first plating onto fresh Cu forms the SEI first: a protocol may give that its own
    # step (the cell falls from its ~3 V OCV); that charge went into the Cu too, and is lost
    sei = [s for s in steps_named(run, "SEI formation") if s.step < strip.step]
    plated_Ah = plate.discharge_Ah + sum(s.discharge_Ah for s in sei)
    return {
        "conditioning_ce": Result(
            value=strip.charge_Ah / plated_Ah,
            unit="1",
            source={
                "steps": [*(s.step for s in sei), plate.step, strip.step],
                "strip_end_reason": strip.end_reason,
                "sei_formation_mAh": sum(s.discharge_Ah for s in sei) * 1e3,
            },
        )
    }


def _overpotential_mV(run: RunData, step: StepRecord) -> float | None:
    """Median |V| of a step's points: on Li | Cu the cell voltage is the Cu electrode's
    potential against Li, i.e. the overpotential of plating (V < 0) or stripping (V > 0)."""
    V = step_samples(run, step)["V"]
    return float(np.median(np.abs(V))) * 1e3 if V.size else None


def cycle_table(run: RunData) -> dict[str, Result]:
    """``li_cu_cycles``: one row per strip + plate cycle of the n cycles (also an
    unfinished last one): charges, the strip/plate ratio and both overpotentials."""
    table: list[dict[str, Any]] = []
    row: dict[str, Any] | None = None
    for s in steps_named(run, "cycle strip", "cycle plate"):
        if s.name == "cycle strip" or row is None:
            row = {
                "cycle": len(table) + 1,
                "strip_mAh": None,
                "plate_mAh": None,
                "strip_plate_ratio": None,
                "strip_overpotential_mV": None,
                "plate_overpotential_mV": None,
                "strip_end_reason": None,
                "plate_end_reason": None,
                "steps": [],
            }
            table.append(row)
        half = "strip" if s.name == "cycle strip" else "plate"
        row[f"{half}_mAh"] = (s.charge_Ah if half == "strip" else s.discharge_Ah) * 1e3
        row[f"{half}_overpotential_mV"] = _overpotential_mV(run, s)
        row[f"{half}_end_reason"] = s.end_reason
        row["steps"].append(s.step)
        if row["strip_mAh"] is not None and row["plate_mAh"]:
            row["strip_plate_ratio"] = row["strip_mAh"] / row["plate_mAh"]
    if not table:
        return {}
    steps = [st for r in table for st in r["steps"]]
    return {
        "li_cu_cycles": Result(
            data=table,
            source={
                "steps": [steps[0], steps[-1]],
                "strip_plate_ratio": "strip charge / plate charge of the same cycle",
                "overpotential": "median |V| of the half cycle's points",
            },
        )
    }


def analyse_li_cu_ce(run: RunData) -> dict[str, Result]:
    return {**_conditioning(run), **_ce_avg(run), **cycle_table(run)}
