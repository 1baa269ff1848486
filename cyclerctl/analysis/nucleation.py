"""Li nucleation overpotential on Cu (kind ``nucleation``).

Method (Yan et al., Nat. Energy 1 (2016) 16010; Pei et al., Nano Lett. 17 (2017) 1132):
plate Li onto bare Cu at constant current. The voltage first dips (the overpotential to form
nuclei), then recovers to a plateau (growth on the nuclei). With V_dip the most negative
voltage within the first ``dip_window`` of the step (default 20 % of its duration) and
V_plateau the median voltage over ``plateau_window`` (default 20–60 % of the duration, where
the voltage is flat):

    nucleation_overpotential_mV = |V_dip − V_plateau| × 1000
    plateau_overpotential_mV    = |V_plateau| × 1000

Both windows are fractions of the plating's duration, counted from the *onset of Li
deposition* — the first point at or below 0 V vs Li — not from the step's start: a plate
that starts on fresh Cu first passes the SEI shoulder (the cell falls from its ~3 V OCV and
holds near 0.8 V while the SEI forms), which is no part of the nucleation transient; a plate
that starts below 0 V is unchanged. They may be set as ``[analysis]`` options. The step is
the one named "plate".

The plateau is the cell voltage under current, so it *includes* the ohmic (IR) drop of
electrolyte, SEI and contacts; the nucleation overpotential (a difference of two voltages at
the same current) does not. ``plateau_overpotential_ir_corrected_mV`` = |V_plateau| − |I| R
removes it, with R the ``[analysis]`` option ``series_resistance`` (e.g. the high-frequency
intercept of an EIS of the cell), else the current-interrupt jump at the end of the plate
step, R = |ΔV|/|I| between its last point and the first point after it (Li on Cu has no
other fast process at open circuit). Without either, ``ir_correction_missing_reason``
says what is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis.run import RunData, quantity, seq_range, step_samples, steps_named
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "nucleation/2"
DIP_WINDOW = 0.2
PLATEAU_WINDOW = (0.2, 0.6)


@dataclass(frozen=True, slots=True)
class Nucleation:
    dip_V: float
    dip_t_s: float  # from the start of the step
    plateau_V: float

    @property
    def nucleation_overpotential_mV(self) -> float:
        return abs(self.dip_V - self.plateau_V) * 1e3

    @property
    def plateau_overpotential_mV(self) -> float:
        return abs(self.plateau_V) * 1e3


def nucleation(
    t: np.ndarray[Any, Any],
    V: np.ndarray[Any, Any],
    dip_window: float = DIP_WINDOW,
    plateau_window: Sequence[float] = PLATEAU_WINDOW,
) -> Nucleation | None:
    """Dip and plateau of a plating transient; None with too few points to tell. The windows
    count from the onset of deposition (the first V ≤ 0); ``dip_t_s`` from the step's start."""
    onset = np.flatnonzero(V <= 0.0)
    step_start = t[0] if t.size else 0.0
    if onset.size:
        t, V = t[int(onset[0]) :], V[int(onset[0]) :]
    if V.size < 3:
        return None
    rel = (t - t[0]) / (t[-1] - t[0]) if t[-1] > t[0] else np.linspace(0.0, 1.0, t.size)
    early = rel <= dip_window
    lo, hi = plateau_window
    flat = (rel >= lo) & (rel <= hi)
    if not early.any() or not flat.any():
        return None
    i = int(np.flatnonzero(early)[np.argmin(V[early])])
    return Nucleation(float(V[i]), float(t[i] - step_start), float(np.median(V[flat])))


def analyse_nucleation(run: RunData) -> dict[str, Result]:
    plates = steps_named(run, "plate")
    if not plates:
        return {}
    step = plates[0]
    rows = step_samples(run, step)
    dip_window = float(run.options.get("dip_window", DIP_WINDOW))
    plateau_window = tuple(float(x) for x in run.options.get("plateau_window", PLATEAU_WINDOW))
    found = nucleation(rows["t"], rows["V"], dip_window, plateau_window)
    if found is None:
        return {}
    source = {
        "steps": [step.step],
        "seq": seq_range(rows),
        "dip_V": found.dip_V,
        "dip_after_s": found.dip_t_s,
        "plateau_V": found.plateau_V,
        "dip_window": dip_window,
        "plateau_window": list(plateau_window),
    }
    results = {
        "nucleation_overpotential_mV": Result(
            value=found.nucleation_overpotential_mV, unit="mV", source=source
        ),
        "plateau_overpotential_mV": Result(
            value=found.plateau_overpotential_mV,
            unit="mV",
            source={**source, "includes": "the IR drop (cell voltage under current)"},
        ),
    }
    lo, hi = plateau_window
    rel = (rows["t"] - rows["t"][0]) / max(float(rows["t"][-1] - rows["t"][0]), 1e-12)
    flat = (rel >= lo) & (rel <= hi)
    current = float(np.median(np.abs(rows["I"][flat])))
    R, how = series_resistance(run, step)
    if R is None:
        results["ir_correction_missing_reason"] = Result(value=None, data=how, source=source)
        return results
    corrected = found.plateau_overpotential_mV - current * R * 1e3
    results["plateau_overpotential_ir_corrected_mV"] = Result(
        value=corrected,
        unit="mV",
        source={
            **source,
            "series_resistance_ohm": R,
            "resistance_from": how,
            "current_A": current,
            "ir_drop_mV": current * R * 1e3,
        },
    )
    return results


def series_resistance(run: RunData, plate: StepRecord) -> tuple[float | None, str]:
    """R for the IR correction and where it came from (None and what is missing)."""
    R = quantity(run, "series_resistance", "resistance")
    if R is not None:
        return R, "[analysis] series_resistance"
    later = [s for s in run.steps if s.step > plate.step]
    rows = step_samples(run, plate)
    if later and rows.size:
        after = step_samples(run, later[0])
        if after.size:
            dI = abs(float(rows["I"][-1]) - float(after["I"][0]))
            if dI > 0:
                dV = abs(float(after["V"][0]) - float(rows["V"][-1]))
                return dV / dI, f"current interrupt at the end of step {plate.step}"
    return None, (
        "no series resistance: set [analysis] series_resistance (e.g. the EIS high-frequency "
        "intercept) or follow the plate with a rest (current interrupt)"
    )
