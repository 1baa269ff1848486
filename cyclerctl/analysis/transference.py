"""Li⁺ transference number by the Bruce–Vincent–Evans method (kind ``bruce-vincent``).

Method (Evans, Vincent & Bruce, Polymer 28 (1987) 2324; Bruce & Vincent, J. Electroanal.
Chem. 225 (1987) 1): on Li | electrolyte | Li, measure a spectrum, hold a small ΔV until the
current is steady, measure again. With I0 / Is the initial / steady-state current and
R0 / Rs the interfacial resistances before / after the hold,

    t+ = Is (ΔV − I0 R0) / (I0 (ΔV − Is Rs))

R0 and Rs are R1 of R-RQ fits (R0 + R1‖CPE: bulk + interface) of the "eis before" and
"eis after" spectra (option ``circuit`` may name R-RQ-W). ΔV is the ``polarization``
parameter, else the hold's mean voltage. I0 is the hold's first point (option
``initial_current = "extrapolated"``: a line through its first five points, taken at the
step start); Is the mean of the last 5 % of the hold. Results: ``transference_number``,
``I0_A``, ``Is_A``, ``R0_ohm``, ``Rs_ohm``; each source says how it was read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cyclerctl.analysis.eis import CircuitFit, FitError, fit_circuit
from cyclerctl.analysis.run import (
    RunData,
    quantity,
    seq_range,
    step_impedance,
    step_samples,
    steps_named,
)
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "bruce-vincent/1"
STEADY_FRACTION = 0.05
EXTRAPOLATION_POINTS = 5


def bruce_vincent(dV: float, I0: float, Is: float, R0: float, Rs: float) -> float:
    """t+ = Is (ΔV − I0 R0) / (I0 (ΔV − Is Rs)); magnitudes, SI."""
    dV, I0, Is = abs(dV), abs(I0), abs(Is)
    return Is * (dV - I0 * R0) / (I0 * (dV - Is * Rs))


def initial_current(
    t: np.ndarray[Any, Any], I: np.ndarray[Any, Any], t0: float, extrapolate: bool
) -> float:
    if not extrapolate or I.size < 2:
        return float(abs(I[0]))
    k = min(EXTRAPOLATION_POINTS, I.size)
    _slope, intercept = np.polyfit(t[:k] - t0, np.abs(I[:k]), 1)
    return float(intercept)


def steady_current(t: np.ndarray[Any, Any], I: np.ndarray[Any, Any]) -> float:
    """Mean |I| over the last 5 % of the hold (at least the last point)."""
    tail = t >= t[-1] - STEADY_FRACTION * (t[-1] - t[0])
    return float(np.abs(I[tail]).mean())


def _interface(run: RunData, step: StepRecord, circuit: str) -> tuple[CircuitFit, Any] | None:
    rows = step_impedance(run, step)
    if rows.size == 0:
        return None
    z = (rows["Zre"] + 1j * rows["Zim"]).astype(np.complex128)
    try:
        return fit_circuit(rows["f"].astype(np.float64), z, circuit), rows
    except FitError:
        return None


def analyse_bruce_vincent(run: RunData) -> dict[str, Result]:
    before, after, holds = (
        steps_named(run, n) for n in ("eis before", "eis after", "polarization")
    )
    if not (before and after and holds):
        return {}
    circuit = str(run.options.get("circuit", "R-RQ"))
    fits = [_interface(run, before[0], circuit), _interface(run, after[-1], circuit)]
    hold = holds[0]
    rows = step_samples(run, hold)
    if fits[0] is None or fits[1] is None or rows.size < 2:
        return {}
    (fit0, imp0), (fit_s, imp_s) = fits[0], fits[1]
    R0, Rs = fit0.parameters["R1"], fit_s.parameters["R1"]
    dV = quantity(run, "polarization", "voltage")
    dV_from = "parameter polarization"
    if dV is None:
        dV, dV_from = float(np.mean(rows["V"])), "mean V of the hold"
    extrapolate = run.options.get("initial_current") == "extrapolated"
    I0 = initial_current(rows["t"], rows["I"], hold.t_start, extrapolate)
    Is = steady_current(rows["t"], rows["I"])
    hold_src = {"steps": [hold.step], "seq": seq_range(rows)}
    i0_how = (
        f"line through the first {EXTRAPOLATION_POINTS} points at t=0"
        if extrapolate
        else "first point"
    )
    results = {
        "I0_A": Result(value=I0, unit="A", source={**hold_src, "method": i0_how}),
        "Is_A": Result(
            value=Is, unit="A", source={**hold_src, "method": f"mean of last {STEADY_FRACTION:.0%}"}
        ),
        "R0_ohm": Result(
            value=R0,
            unit="ohm",
            source={
                "steps": [before[0].step],
                "impedance_seq": seq_range(imp0),
                "fit": fit0.as_data(),
            },
        ),
        "Rs_ohm": Result(
            value=Rs,
            unit="ohm",
            source={
                "steps": [after[-1].step],
                "impedance_seq": seq_range(imp_s),
                "fit": fit_s.as_data(),
            },
        ),
    }
    results["transference_number"] = Result(
        value=bruce_vincent(dV, I0, Is, R0, Rs),
        unit="1",
        source={
            "steps": [before[0].step, hold.step, after[-1].step],
            "dV_V": dV,
            "dV_from": dV_from,
            "I0": i0_how,
            "R": f"R1 of {circuit} fits",
        },
    )
    return results
