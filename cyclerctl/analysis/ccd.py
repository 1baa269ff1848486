"""Critical current density of a Li | electrolyte | Li cell (kind ``ccd``).

Method: strip and plate a fixed areal capacity at a current density that rises every cycle
until the cell shorts (the voltage collapses); the CCD is the current density of the step
in which the short happened (Sharafi et al., J. Power Sources 302 (2016) 135; Kasemchainan
et al., Nat. Mater. 18 (2019) 1105). The step's |I| is the median of its points (robust to
the collapse itself), divided by the electrode area and rounded to 0.001 mA/cm².

Results: ``ccd_mA_cm2``, ``short_at_h`` (run time of the short) and
``last_passed_mA_cm2`` (the highest current density of a cycle completed before the
short's cycle: the CCD lies between the two); without a short,
``max_current_density_without_short_mA_cm2`` (the highest step current density reached).
"""

from __future__ import annotations

from cyclerctl.analysis.run import (
    MA_CM2_PER_A_M2,
    RunData,
    first_short,
    is_abnormal,
    median_abs_current_A,
    step_end_s,
)
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "ccd/2"
#: Steps at a set current; the others (rest, EIS) carry no current density to speak of.
CURRENT_STEP_KINDS = ("cc",)


def current_density_mA_cm2(current_A: float, area_m2: float) -> float:
    return round(abs(current_A) / area_m2 * MA_CM2_PER_A_M2, 3)


def last_passed(run: RunData, short: StepRecord) -> tuple[float, int] | None:
    """(|I|, step) of the highest-current ``cc`` step of a cycle completed before the
    short's (a strip that passed at the current density whose plate then shorted does not
    count: the cell did not survive that current density)."""
    best: tuple[float, int] | None = None
    for s in run.steps:
        if s.step >= short.step or s.kind not in CURRENT_STEP_KINDS:
            continue
        if short.cycle > 0 and s.cycle >= short.cycle:
            continue
        if s.end_reason is None or is_abnormal(s.end_reason):
            continue
        current = median_abs_current_A(run, s)
        if current is not None and (best is None or current > best[0]):
            best = (current, s.step)
    return best


def analyse_ccd(run: RunData) -> dict[str, Result]:
    area = run.cell.area_m2
    if area <= 0:
        return {}
    short = first_short(run)
    if short is not None:
        current = median_abs_current_A(run, short)
        if current is None:
            return {}
        end_s = step_end_s(run, short)
        source = {"steps": [short.step], "step_name": short.name, "cycle": short.cycle}
        results = {
            "ccd_mA_cm2": Result(
                value=current_density_mA_cm2(current, area),
                unit="mA/cm^2",
                source={**source, "current": "median |I| of the step's points"},
            ),
            "short_at_h": Result(value=end_s / 3600.0, unit="h", source=source),
        }
        passed = last_passed(run, short)
        if passed is not None:
            results["last_passed_mA_cm2"] = Result(
                value=current_density_mA_cm2(passed[0], area),
                unit="mA/cm^2",
                source={
                    "steps": [passed[1]],
                    "meaning": "highest current density of a cycle completed before the "
                    "cycle that shorted",
                },
            )
        return results
    best: tuple[float, int] | None = None
    for s in run.steps:
        if s.kind not in CURRENT_STEP_KINDS:
            continue
        current = median_abs_current_A(run, s)
        if current is not None and (best is None or current > best[0]):
            best = (current, s.step)
    if best is None:
        return {}
    return {
        "max_current_density_without_short_mA_cm2": Result(
            value=current_density_mA_cm2(best[0], area),
            unit="mA/cm^2",
            source={"steps": [best[1]], "end_reason": run.end_reason},
        )
    }
