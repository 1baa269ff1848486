"""Critical current density of a Li|Li ramp that shorts at a known current density."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.ccd import current_density_mA_cm2
from cyclerctl.store import StepRecord
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

AREA_CM2 = DISK_12MM_M2 * 1e4
HALF_CYCLE_AH = 0.1e-3 * AREA_CM2  # 0.1 mAh/cm²


def ccd_run(
    short_at_mA_cm2: float | None, last_mA_cm2: float = 1.5
) -> tuple[RunData, StepRecord | None]:
    """Strip/plate 0.1 mAh/cm² at 0.1, 0.2, … mA/cm²; the plate at ``short_at`` shorts
    halfway: its voltage collapses to ~0 and the engine ends it on ``short``."""
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2))
    rng = np.random.default_rng(9)
    for k, j in enumerate(np.arange(0.1, last_mA_cm2 + 1e-9, 0.1), start=1):
        I = j * 1e-3 * AREA_CM2
        duration = HALF_CYCLE_AH * 3600.0 / I
        for name, sign in (("strip", 1.0), ("plate", -1.0)):
            shorts = short_at_mA_cm2 is not None and abs(j - short_at_mA_cm2) < 1e-9
            t = np.linspace(0.0, duration / 2 if shorts and sign < 0 else duration, 100)
            V = sign * 0.05 * j * np.ones(t.size)
            if shorts and sign < 0:
                V[-10:] = sign * 1e-4  # the collapse
            currents = sign * I * (1 + 0.002 * rng.standard_normal(t.size))
            b.step(
                name,
                "cc",
                t,
                V,
                currents,
                cycle=k,
                end_reason="short" if shorts and sign < 0 else "limit:charge",
            )
            if shorts and sign < 0:
                return b.build(end_reason="short", kind="ccd"), b.steps[-1]
    return b.build(kind="ccd"), None


def test_ccd_is_the_current_density_of_the_shorted_step() -> None:
    run, shorted = ccd_run(0.7)
    assert shorted is not None and shorted.t_end is not None
    results = analyse(run).results
    assert results["ccd_mA_cm2"].value == 0.7
    assert results["ccd_mA_cm2"].unit == "mA/cm^2"
    assert results["ccd_mA_cm2"].source["steps"] == [shorted.step]
    assert results["short_at_h"].value == shorted.t_end / 3600.0
    assert "max_current_density_without_short_mA_cm2" not in results


def test_without_a_short_the_highest_current_density_reached() -> None:
    run, _ = ccd_run(None, last_mA_cm2=1.2)
    results = analyse(run).results
    assert "ccd_mA_cm2" not in results and "short_at_h" not in results
    assert results["max_current_density_without_short_mA_cm2"].value == pytest.approx(
        1.2, abs=0.002
    )


def test_rounding() -> None:
    assert current_density_mA_cm2(-0.70004e-3, 1e-4) == 0.7


def test_the_last_current_density_passed_before_the_short() -> None:
    results = analyse(ccd_run(0.7)[0]).results
    # the 0.7 strip passed but its plate shorted: 0.6 is the last cycle the cell survived
    assert results["last_passed_mA_cm2"].value == 0.6
    assert results["ccd_mA_cm2"].value == 0.7
