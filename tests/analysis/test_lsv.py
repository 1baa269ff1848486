"""Oxidation onset from a linear sweep with a known current–voltage law and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.lsv import onset_potential
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

UA_CM2 = 1e-2  # 1 µA/cm² in A/m²
BACKGROUND = 2 * UA_CM2
TAFEL_V = 0.06


def j_true(V: np.ndarray, onset_ref_V: float = 4.5) -> np.ndarray:
    """A capacitive background plus an exponential oxidation current (A/m²)."""
    return BACKGROUND + 10 * UA_CM2 * np.exp((V - onset_ref_V) / TAFEL_V)


def true_onset(threshold: float, onset_ref_V: float = 4.5) -> float:
    return onset_ref_V + TAFEL_V * math.log((threshold - BACKGROUND) / (10 * UA_CM2))


def lsv_run(upper_V: float = 5.0, back_down: bool = False, **parameters: str) -> RunData:
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2), parameters=dict(parameters))
    b.cc("rest", 0.0, 1800.0, 3.0)
    t = np.arange(0.0, (upper_V - 3.0) / 1e-3 + 1)  # 1 mV/s, a point a second
    V = 3.0 + 1e-3 * t
    if back_down:  # a CV: the way back must not count
        V = np.concatenate([V, V[::-1]])
        t = np.arange(V.size, dtype=float)
    rng = np.random.default_rng(42)
    j = j_true(V) + rng.normal(0.0, 1 * UA_CM2, V.size)
    j[np.argmin(np.abs(V - 4.0))] = 50 * UA_CM2  # one spike: not an onset
    b.step("lsv", "sweep", t, V, j * DISK_12MM_M2, end_reason="completed")
    return b.build(kind="lsv-onset")


def test_onset_with_the_default_threshold() -> None:
    result = analyse(lsv_run()).results["oxidation_onset_V"]
    assert result.value == pytest.approx(true_onset(10 * UA_CM2), abs=0.020)
    assert result.unit == "V"
    assert result.source["threshold"] == "10 uA/cm^2"
    assert result.source["threshold_A_m2"] == pytest.approx(0.1)


def test_onset_with_a_threshold_parameter_on_a_cv() -> None:
    result = analyse(lsv_run(back_down=True, onset_threshold="50 uA/cm^2")).results
    assert result["oxidation_onset_V"].value == pytest.approx(true_onset(50 * UA_CM2), abs=0.020)
    assert result["oxidation_onset_V"].source["threshold"] == "50 uA/cm^2"


def test_never_exceeded_no_onset() -> None:
    assert "oxidation_onset_V" not in analyse(lsv_run(upper_V=4.2)).results


def test_onset_potential_interpolates() -> None:
    V = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    j = np.array([0.0, 5.0, 0.0, 10.0, 20.0])  # one point over, then the real rise
    assert onset_potential(V, j, 4.0, consecutive=2) == pytest.approx(3.4)
    assert onset_potential(V, j, 30.0) is None
