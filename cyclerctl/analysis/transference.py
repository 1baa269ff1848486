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
step start); Is the mean of the last 5 % of the hold.

The fits see only the interfacial arc (:func:`fit_interface`): inductive points dropped,
and stopped at the valley where a diffusion tail begins. A gate: each fit must meet its
points within 5 % RMS and fix R1 within 10 %, else ``transference_number`` is withheld and
``transference_number_missing_reason`` says why. Each spectrum is Lin-KK checked first
(``kk_check``; a failed check is a flag, not a stop). I0 is cross-checked against Ohm's
law at t = 0, ΔV / (R_b + R0) (``I0_expected_A``; a gap over 20 % is flagged), and a t+
outside 0–1 is flagged in its source (``in_range``, ``flags``).

Results: ``transference_number``, ``I0_A``, ``I0_expected_A``, ``Is_A``, ``R0_ohm``,
``Rs_ohm`` (interfacial), ``Rb_before_ohm``, ``Rb_after_ohm`` (bulk), ``kk_check``; each
source says how it was read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cyclerctl.analysis import kk, spectrum
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

ANALYSIS_VERSION = "bruce-vincent/2"
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


#: The interfacial arc's fit is trusted when its points are met within this relative RMS ...
MAX_ARC_REL_RMS = 0.05
#: ... and R1 (the interfacial resistance) is fixed by the data to this relative error.
MAX_R1_REL_ERR = 0.1
#: I0 measured and ΔV/(R_b + R_i) may differ this much before the source flags it.
I0_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class Interface:
    """The interfacial arc of one Li | Li spectrum and its fit."""

    fit: CircuitFit
    rows: Any
    arc_points: int  # points fitted (from the highest capacitive frequency to the arc's end)
    dropped_inductive: int
    dropped_after_arc: int
    kk: kk.KKCheck | None
    problems: tuple[str, ...]

    @property
    def bulk_ohm(self) -> float:
        return self.fit.parameters["R0"]

    @property
    def interface_ohm(self) -> float:
        return self.fit.parameters["R1"]

    def data(self) -> dict[str, Any]:
        out = self.fit.as_data()
        out.update(
            arc_points=self.arc_points,
            dropped_inductive=self.dropped_inductive,
            dropped_after_arc=self.dropped_after_arc,
            f_range_fitted_Hz=[self.fit.f_min_Hz, self.fit.f_max_Hz],
            problems=list(self.problems),
        )
        return out


def fit_interface(f_Hz: Any, Z: Any, circuit: str = "R-RQ") -> Interface:
    """R-RQ (bulk R0 + interface R1‖CPE) fitted to the interfacial arc only.

    Inductive points (−Z'' < 0, the leads) are dropped; the fit stops at the arc's end, the
    valley of −Z'' where the diffusion tail begins (:func:`spectrum.find_arc`), so a
    Warburg or finite-length tail after the arc does not pull R1. Without a resolved arc the
    whole capacitive spectrum is fitted and ``problems`` says so. ``circuit="R-RQ-W"`` fits
    the arc and the tail together on all capacitive points. FitError when nothing fits.
    """
    f, z = spectrum.clean(np.asarray(f_Hz, dtype=np.float64), np.asarray(Z, dtype=np.complex128))
    check = kk.check_or_none(f, z)
    fc, zc, inductive = spectrum.capacitive(f, z)
    problems: list[str] = []
    warning = kk.note(check)
    if warning:
        problems.append(warning)
    arc = spectrum.find_arc(fc, zc) if fc.size else None
    end = fc.size - 1
    if circuit == "R-RQ":
        if arc is None:
            problems.append("no resolved interfacial arc: fitted on all capacitive points")
        else:
            end = arc.end
    fit = fit_circuit(fc[: end + 1], zc[: end + 1], circuit)
    r1_err = fit.errors.get("R1")
    if fit.rel_rms > MAX_ARC_REL_RMS:
        problems.append(f"arc fit misses its points by {fit.rel_rms:.1%} RMS")
    if r1_err is None or r1_err > MAX_R1_REL_ERR * fit.parameters["R1"]:
        shown = "unknown" if r1_err is None else f"{r1_err / fit.parameters['R1']:.0%}"
        problems.append(f"R1 is not fixed by the data (relative error {shown})")
    return Interface(
        fit=fit,
        rows=None,
        arc_points=end + 1,
        dropped_inductive=inductive,
        dropped_after_arc=fc.size - end - 1,
        kk=check,
        problems=tuple(problems),
    )


def _interface(run: RunData, step: StepRecord, circuit: str) -> Interface | None:
    rows = step_impedance(run, step)
    if rows.size == 0:
        return None
    z = (rows["Zre"] + 1j * rows["Zim"]).astype(np.complex128)
    try:
        found = fit_interface(rows["f"].astype(np.float64), z, circuit)
    except FitError:
        return None
    return replace(found, rows=rows)


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
    first, last = fits[0], fits[1]
    R0, Rs = first.interface_ohm, last.interface_ohm
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
    # Ohm's law at t = 0: before any concentration gradient the cell is R_b + R_i(0)
    I0_ohm = abs(dV) / (first.bulk_ohm + R0)
    i0_ratio = I0 / I0_ohm
    i0_src = {
        **hold_src,
        "method": i0_how,
        "expected_A": I0_ohm,
        "expected": "dV / (R_b + R0) from the spectrum before the hold",
        "ratio_to_expected": i0_ratio,
        "agrees": abs(i0_ratio - 1.0) <= I0_TOLERANCE,
    }
    results = {
        "I0_A": Result(value=I0, unit="A", source=i0_src),
        "I0_expected_A": Result(value=I0_ohm, unit="A", source=i0_src),
        "Is_A": Result(
            value=Is, unit="A", source={**hold_src, "method": f"mean of last {STEADY_FRACTION:.0%}"}
        ),
    }
    for name, rb_name, side, step in (
        ("R0_ohm", "Rb_before_ohm", first, before[0]),
        ("Rs_ohm", "Rb_after_ohm", last, after[-1]),
    ):
        src = {"steps": [step.step], "impedance_seq": seq_range(side.rows), "fit": side.data()}
        if side.kk is not None:
            src["kk"] = side.kk.as_data()
        results[name] = Result(value=side.interface_ohm, unit="ohm", source=src)
        results[rb_name] = Result(
            value=side.bulk_ohm,
            unit="ohm",
            source={"steps": [step.step], "from": f"R0 of the {circuit} fit"},
        )
    checks = [c for c in (first.kk, last.kk) if c is not None]
    if checks:
        results["kk_check"] = Result(
            value=max(c.max_abs_residual for c in checks),
            unit="1",
            data=[
                {"step": st.step, "label": lab, **c.as_data()}
                for st, lab, c in (
                    (before[0], "before", first.kk),
                    (after[-1], "after", last.kk),
                )
                if c is not None
            ],
            source={
                "all_valid": all(c.valid for c in checks),
                "max_residual_allowed": kk.MAX_RESIDUAL,
            },
        )
    if run.options.get("drt"):
        from cyclerctl.analysis.conductivity import drt_table

        table, skipped = drt_table(
            run,
            [(before[0].step, "before", first.rows), (after[-1].step, "after", last.rows)],
            blocking=False,
        )
        if table:
            results["drt"] = Result(data=table, source={"steps": [r["step"] for r in table]})
        if skipped:
            results["drt_missing_reason"] = Result(value=None, data="; ".join(skipped))
    t_src: dict[str, Any] = {
        "steps": [before[0].step, hold.step, after[-1].step],
        "dV_V": dV,
        "dV_from": dV_from,
        "I0": i0_how,
        "R": f"R1 of {circuit} fits to the interfacial arc",
    }
    problems = [f"before: {p}" for p in first.problems] + [f"after: {p}" for p in last.problems]
    gate = [p for p in problems if "Lin-KK" not in p]  # KK is a warning, a bad fit a stop
    if gate:
        results["transference_number_missing_reason"] = Result(
            value=None, data="; ".join(gate), source=t_src
        )
        return results
    t_plus = bruce_vincent(dV, I0, Is, R0, Rs)
    flags = list(problems)
    if not 0.0 <= t_plus <= 1.0:
        flags.append(
            f"t+ = {t_plus:.3f} is outside 0-1: not a transference number (check that the "
            "current was steady, that dV was small, and the interfacial fits)"
        )
    if not i0_src["agrees"]:
        flags.append(f"I0 is {i0_ratio:.2f} x dV/(R_b + R0): the first point is not at t = 0")
    t_src["in_range"] = 0.0 <= t_plus <= 1.0
    t_src["flags"] = flags
    results["transference_number"] = Result(value=t_plus, unit="1", source=t_src)
    return results
