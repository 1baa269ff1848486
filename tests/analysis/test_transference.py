"""Bruce–Vincent transference number of a Li|Li cell built with a known t+."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.circuits import circuit
from cyclerctl.analysis.transference import bruce_vincent
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell, frequencies, noisy

T_PLUS = 0.40
DV = 0.010
R_BULK = 30.0
R_INT_BEFORE, R_INT_AFTER = 400.0, 450.0
TAU_S = 400.0


def steady_current(I0: float) -> float:
    """Is that makes t+ = T_PLUS: t+ = Is(ΔV − I0 R0) / (I0(ΔV − Is Rs)) solved for Is."""
    return T_PLUS * I0 * DV / (DV - I0 * R_INT_BEFORE + T_PLUS * I0 * R_INT_AFTER)


def bv_run(with_parameter: bool = True) -> tuple[RunData, float, float]:
    b = RunBuilder(
        cell=cell(area_m2=DISK_12MM_M2),
        parameters={"polarization": "10 mV"} if with_parameter else {},
    )
    f = frequencies(1e5, 0.1)
    b.cc("rest", 0.0, 1800.0, 0.0)
    for name, r_int, seed in (("eis before", R_INT_BEFORE, 1), ("eis after", R_INT_AFTER, 2)):
        Z = circuit("R-RQ").impedance({"R0": R_BULK, "R1": r_int, "Q1": 2e-6, "n1": 0.85}, f)
        b.eis(name, f, noisy(Z, 0.003, seed))
        if name == "eis before":
            I0 = DV / (R_BULK + R_INT_BEFORE)
            Is = steady_current(I0)
            t = np.arange(0.0, 3600.0 + 1, 5.0)
            I = Is + (I0 - Is) * np.exp(-t / TAU_S)
            I = I * (1 + 0.001 * np.random.default_rng(3).standard_normal(t.size))
            b.step("polarization", "cv", t, np.full(t.size, DV), I)
    return b.build(kind="bruce-vincent"), I0, Is


def test_transference_number() -> None:
    run, I0, Is = bv_run()
    results = analyse(run).results
    assert results["transference_number"].value == pytest.approx(T_PLUS, abs=0.03)
    assert results["R0_ohm"].value == pytest.approx(R_INT_BEFORE, rel=0.02)
    assert results["Rs_ohm"].value == pytest.approx(R_INT_AFTER, rel=0.02)
    assert results["I0_A"].value == pytest.approx(I0, rel=0.01)
    assert results["Is_A"].value == pytest.approx(Is, rel=0.01)
    assert results["I0_A"].source["method"] == "first point"
    assert results["transference_number"].source["dV_from"] == "parameter polarization"


def test_dv_from_the_hold_and_extrapolated_i0() -> None:
    run, I0, _ = bv_run(with_parameter=False)
    run = dataclasses.replace(run, options={**run.options, "initial_current": "extrapolated"})
    results = analyse(run).results
    assert results["transference_number"].source["dV_from"] == "mean V of the hold"
    assert results["I0_A"].value == pytest.approx(I0, rel=0.01)
    assert "line through" in results["I0_A"].source["method"]
    assert results["transference_number"].value == pytest.approx(T_PLUS, abs=0.03)


def test_formula() -> None:
    # an ideal single-ion conductor: Is(ΔV − I0R0) = I0(ΔV − IsRs) when Is = I0, R0 = Rs
    assert bruce_vincent(0.01, 1e-5, 1e-5, 100.0, 100.0) == pytest.approx(1.0)
