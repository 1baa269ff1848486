"""Bruce–Vincent transference number of a Li|Li cell built with a known t+."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.circuits import circuit, warburg
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


def finite_length_warburg(R_d: float, tau_d: float, f: Any) -> Any:
    """Transmissive finite-length diffusion: R_d tanh(√(jωτ_d)) / √(jωτ_d) (Orazem &
    Tribollet ch. 11): a 45° line that bends into a second, small arc at low frequency."""
    s = np.sqrt(1j * 2 * np.pi * f * tau_d)
    return np.asarray(R_d * np.tanh(s) / s)


def tail_run(tail: str, inductive: bool = True) -> RunData:
    """The cell of :func:`bv_run` whose spectra carry a diffusion tail after the arc and,
    at the top, lead inductance (−Z'' < 0) as a real cell's do."""
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2), parameters={"polarization": "10 mV"})
    f = frequencies(1e6 if inductive else 1e5, 0.01)
    for name, r_int, seed in (("eis before", R_INT_BEFORE, 1), ("eis after", R_INT_AFTER, 2)):
        Z = circuit("R-RQ").impedance({"R0": R_BULK, "R1": r_int, "Q1": 2e-6, "n1": 0.85}, f)
        if tail == "finite":
            Z = Z + finite_length_warburg(300.0, 50.0, f)
        else:
            Z = Z + warburg(60.0, 2 * np.pi * f)
        if inductive:
            Z = Z + 1j * 2 * np.pi * f * 2e-6  # 2 µH of leads: −Z'' < 0 above ~100 kHz
        b.eis(name, f, noisy(Z, 0.003, seed))
        if name == "eis before":
            I0 = DV / (R_BULK + R_INT_BEFORE)
            Is = steady_current(I0)
            t = np.arange(0.0, 3600.0 + 1, 5.0)
            b.step(
                "polarization", "cv", t, np.full(t.size, DV), Is + (I0 - Is) * np.exp(-t / TAU_S)
            )
    return b.build(kind="bruce-vincent")


@pytest.mark.parametrize("tail", ["finite", "semi-infinite"])
def test_only_the_interfacial_arc_is_fitted_when_a_diffusion_tail_follows(tail: str) -> None:
    results = analyse(tail_run(tail)).results
    fit = results["R0_ohm"].source["fit"]
    assert fit["dropped_inductive"] > 0
    assert fit["dropped_after_arc"] > 5  # the tail is left out ...
    assert results["R0_ohm"].value == pytest.approx(R_INT_BEFORE, rel=0.015)  # ... so R1 is
    assert results["Rs_ohm"].value == pytest.approx(R_INT_AFTER, rel=0.015)  # the interface
    assert results["Rb_before_ohm"].value == pytest.approx(R_BULK, rel=0.03)
    assert results["Rb_after_ohm"].value == pytest.approx(R_BULK, rel=0.03)
    assert results["transference_number"].value == pytest.approx(T_PLUS, abs=0.03)
    assert results["transference_number"].source["in_range"] is True
    assert results["I0_A"].source["agrees"] is True
    assert results["I0_expected_A"].value == pytest.approx(DV / (R_BULK + R_INT_BEFORE), rel=0.03)


def test_a_whole_spectrum_fit_would_have_taken_the_tail_for_interface() -> None:
    """The control for the test above: R-RQ on every capacitive point misreads R1."""
    from cyclerctl.analysis.eis import fit_circuit
    from cyclerctl.analysis.spectrum import capacitive, clean

    run = tail_run("finite")
    rows = run.impedance[run.impedance["step"] == run.steps[0].step]
    f, z = clean(rows["f"].astype(float), (rows["Zre"] + 1j * rows["Zim"]).astype(complex))
    fc, zc, _ = capacitive(f, z)
    whole = fit_circuit(fc, zc, "R-RQ")
    assert abs(whole.parameters["R1"] / R_INT_BEFORE - 1) > 0.04  # the arc-only fit: < 1.5 %


def test_a_bad_fit_withholds_t_plus_and_says_why() -> None:
    run, _, _ = bv_run()
    scrambled = run.impedance.copy()
    rng = np.random.default_rng(7)
    scrambled["Zim"] = scrambled["Zim"] * rng.uniform(0.2, 3.0, scrambled.size)
    results = analyse(dataclasses.replace(run, impedance=scrambled)).results
    assert "transference_number" not in results
    reason = results["transference_number_missing_reason"].data
    assert "RMS" in reason or "not fixed" in reason
    assert results["kk_check"].source["all_valid"] is False


def test_t_plus_outside_0_1_is_flagged() -> None:
    run, _, _ = bv_run()
    hold = run.samples["step"] == next(s.step for s in run.steps if s.name == "polarization")
    samples = run.samples.copy()
    samples["I"][hold] = samples["I"][hold][0]  # the current never decayed
    run = dataclasses.replace(run, samples=samples)
    results = analyse(run).results
    t = results["transference_number"]
    # Is = I0 = ΔV/(R_b + R0) with Rs > R0: ΔV − Is·Rs < 0, so t+ < 0
    assert t.value is not None and not 0.0 <= t.value <= 1.0
    assert t.source["in_range"] is False
    assert any("outside 0-1" in flag for flag in t.source["flags"])


def test_i0_far_from_ohms_law_is_flagged() -> None:
    run, _, _ = bv_run()
    hold = run.samples["step"] == next(s.step for s in run.steps if s.name == "polarization")
    samples = run.samples.copy()
    first = np.flatnonzero(hold)[0]
    samples["I"][first] *= 0.5  # a first point taken late, after half the decay
    results = analyse(dataclasses.replace(run, samples=samples)).results
    assert results["I0_A"].source["agrees"] is False
    assert any("I0 is" in f for f in results["transference_number"].source["flags"])
