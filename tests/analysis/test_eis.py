"""CNLS fits and the bulk resistance on spectra computed from the circuits' own formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.analysis.circuits import CIRCUITS, circuit, cpe, rq, warburg
from cyclerctl.analysis.eis import FitError, bulk_resistance, fit_circuit
from cyclerctl.analysis.spectrum import find_arc, hf_intercept
from tests.analysis.factory import frequencies, noisy

F = frequencies(1e6, 0.01)
W = 2 * np.pi * F

TRUE = {
    "R-CPE": {"R0": 120.0, "Q1": 3e-6, "n1": 0.88},
    "R-RQ": {"R0": 15.0, "R1": 240.0, "Q1": 2e-6, "n1": 0.8},
    "R-RQ-W": {"R0": 15.0, "R1": 240.0, "Q1": 2e-6, "n1": 0.8, "Aw": 60.0},
}


@pytest.mark.parametrize("name", sorted(TRUE))
def test_fit_recovers_parameters_of_a_noisy_spectrum(name: str) -> None:
    truth = TRUE[name]
    Z = noisy(circuit(name).impedance(truth, F), 0.005, seed=11)
    fit = fit_circuit(F, Z, name)
    for p, value in truth.items():
        assert fit.parameters[p] == pytest.approx(value, rel=0.03), p
        err = fit.errors[p]
        assert err is not None and 0 < err < 0.05 * value, p
        # the true value is within a few standard errors of the estimate
        assert abs(fit.parameters[p] - value) < 5 * err, p
    # 0.5 % noise on each of Z', Z'' → |ΔZ|/|Z| ≈ 0.7 %
    assert 0.003 < fit.rel_rms < 0.012
    assert fit.reduced_chi_square == pytest.approx(fit.chi_square / (2 * F.size - len(truth)))


def test_exact_data_fit_exactly_and_the_model_reproduces_them() -> None:
    truth = TRUE["R-RQ-W"]
    Z = circuit("R-RQ-W").impedance(truth, F)
    fit = fit_circuit(F, Z, "R-RQ-W")
    assert fit.rel_rms < 1e-6
    assert np.allclose(fit.impedance(F), Z, rtol=1e-6)


def test_element_formulas() -> None:
    w = np.array([1.0, 100.0])
    assert np.allclose(cpe(1e-3, 1.0, w), 1 / (1j * w * 1e-3))  # n = 1: a capacitor
    assert np.allclose(rq(10.0, 1e-3, 1.0, np.array([1e-9])), 10.0)  # dc: the resistor
    assert np.allclose(warburg(2.0, np.array([4.0])), 1.0 - 1.0j)
    assert {c.impedance_py for c in CIRCUITS.values()} == {
        "R0-CPE1",
        "R0-p(R1,CPE1)",
        "R0-p(R1,CPE1)-W1",
    }


def test_too_few_points_and_unknown_circuits_are_errors() -> None:
    with pytest.raises(FitError):
        fit_circuit(F[:3], circuit("R-RQ").impedance(TRUE["R-RQ"], F[:3]), "R-RQ")
    with pytest.raises(ValueError, match="unknown circuit"):
        fit_circuit(F, F + 0j, "R-C")


def blocking(r_b: float, *, q_geom: float = 1e-10, r_leads: float = 1.0) -> np.ndarray:
    """SS | membrane | SS: leads, the bulk R_b ‖ geometric capacitance, the double layer."""
    return r_leads + rq(r_b, q_geom, 0.95, W) + cpe(5e-6, 0.85, W)


def test_bulk_resistance_without_a_semicircle_uses_r_cpe() -> None:
    # bulk arc at ~10 MHz: above the measured range, the spectrum is a bare spike
    Z = noisy(200.0 + cpe(5e-6, 0.85, W), 0.005, seed=3)
    assert find_arc(F, Z) is None
    b = bulk_resistance(F, Z)
    assert b.method == "R-CPE: R0"
    assert b.ohm == pytest.approx(200.0, rel=0.005)
    assert b.stderr_ohm is not None and b.stderr_ohm < 2.0


@pytest.mark.parametrize("r_b", [2e3, 5e4, 1e6])
def test_bulk_resistance_with_a_semicircle_is_its_low_frequency_intercept(r_b: float) -> None:
    Z = noisy(blocking(r_b), 0.005, seed=int(r_b))
    assert find_arc(F, Z) is not None
    b = bulk_resistance(F, Z)
    assert b.method == "R-RQ: R0 + R1"
    assert b.ohm == pytest.approx(r_b + 1.0, rel=0.01)
    assert b.fit is not None and b.fit.circuit == "R-RQ"


def test_bulk_resistance_leaves_out_lead_inductance() -> None:
    Z = 200.0 + cpe(5e-6, 0.85, W) + 1j * W * 2e-6  # 2 µH of leads
    b = bulk_resistance(F, Z)
    assert b.ohm == pytest.approx(200.0, rel=0.01)
    assert any("inductive" in note for note in b.notes)


def test_bulk_resistance_falls_back_to_the_intercept_and_says_so() -> None:
    # a spectrum no circuit here describes: a straight line through the real axis at 50 Ω
    f = np.logspace(5, 0, 26)
    Z = (50.0 + 10.0 * np.arange(26)) - 1j * (-20.0 + 4.0 * np.arange(26)) * ((-1) ** np.arange(26))
    b = bulk_resistance(f, Z, circuit="R-RQ")
    assert b.method == "intercept"
    assert math.isfinite(b.ohm) and b.fit is None
    assert "intercept" in b.notes[-1]


def test_intercept_interpolates_the_zero_crossing_of_minus_z_imag() -> None:
    f = np.array([1e5, 1e4, 1e3])
    Z = np.array([9.0 + 1.0j, 11.0 - 1.0j, 20.0 - 8.0j])
    assert hf_intercept(f, Z) == pytest.approx(10.0)


def test_empty_spectrum_is_an_error_not_a_nan() -> None:
    with pytest.raises(ValueError, match="no finite"):
        bulk_resistance(np.array([np.nan]), np.array([np.nan + 0j]))
