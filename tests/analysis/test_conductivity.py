"""σ = L/(R_b S) from blocking-cell spectra built with known σ."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.circuits import cpe, rq
from cyclerctl.analysis.conductivity import conductivity_S_cm
from tests.analysis.factory import DISK_16MM_M2, RunBuilder, cell, frequencies, noisy

THICKNESS_M = 100e-6
EPS0 = 8.854e-12


def blocking_spectrum(
    sigma_S_cm: float, seed: int, f: np.ndarray[Any, Any] | None = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    """SS | membrane | SS of conductivity σ (no lead resistance): the bulk R_b ‖ geometric
    capacitance (εr = 30), then the blocking electrodes' double layer (Q = 1e-5, n = 0.9)."""
    f = frequencies(1e5, 0.1) if f is None else f
    w = 2 * np.pi * f
    r_b = THICKNESS_M / (sigma_S_cm * 100 * DISK_16MM_M2)
    c_geom = EPS0 * 30 * DISK_16MM_M2 / THICKNESS_M
    Z = rq(r_b, c_geom, 1.0, w) + cpe(1e-5, 0.9, w)
    return f, noisy(Z, 0.005, seed), r_b


def conductivity_run(
    sigma_S_cm: float, seed: int = 1, thickness: float | None = THICKNESS_M
) -> tuple[RunData, float]:
    b = RunBuilder(cell=cell(area_m2=DISK_16MM_M2, thickness_m=thickness))
    b.cc("rest", 0.0, 600.0, 0.0)
    f, Z, r_b = blocking_spectrum(sigma_S_cm, seed)
    b.eis("eis", f, Z, T_K=303.15)
    return b.build(kind="conductivity"), r_b


@pytest.mark.parametrize("sigma", [3e-4, 1e-3, 1e-7])  # R_b 16.6 Ω, 5 Ω (spike only); 50 kΩ (arc)
def test_conductivity_of_a_known_membrane(sigma: float) -> None:
    run, r_b = conductivity_run(sigma, seed=int(sigma * 1e9))
    results = analyse(run).results
    assert results["conductivity_S_cm"].value == pytest.approx(sigma, rel=0.02)
    assert results["conductivity_S_cm"].unit == "S/cm"
    assert results["bulk_resistance_ohm"].value == pytest.approx(r_b, rel=0.02)
    fit = results["eis_fit"].data
    assert fit["circuit"] == ("R-RQ" if sigma < 1e-5 else "R-CPE")
    assert set(fit["parameters"]) == set(fit["errors"])
    assert fit["temperature_K"] == pytest.approx(303.15)
    assert fit["chi_square"] > 0
    source = results["bulk_resistance_ohm"].source
    assert source["steps"] == [2] and source["impedance_seq"] == [1, 61]


def test_spectrum_without_semicircle_still_gives_bulk_resistance() -> None:
    # only 1 kHz–0.1 Hz: the bulk arc is far above, the spectrum is a bare, tilted spike
    f, Z, r_b = blocking_spectrum(3e-4, seed=5, f=frequencies(1e3, 0.1))
    b = RunBuilder(cell=cell(area_m2=DISK_16MM_M2, thickness_m=THICKNESS_M))
    b.eis("eis", f, Z)
    results = analyse(b.build(kind="conductivity")).results
    assert results["bulk_resistance_ohm"].value == pytest.approx(r_b, rel=0.02)
    sigma = results["conductivity_S_cm"].value
    assert sigma is not None and np.isfinite(sigma)


def test_without_thickness_there_is_no_conductivity() -> None:
    run, r_b = conductivity_run(3e-4, thickness=None)
    results = analyse(run).results
    assert "conductivity_S_cm" not in results
    assert results["bulk_resistance_ohm"].value == pytest.approx(r_b, rel=0.02)


def test_the_last_spectrum_counts() -> None:
    b = RunBuilder(cell=cell(area_m2=DISK_16MM_M2, thickness_m=THICKNESS_M))
    for i, sigma in enumerate((1e-4, 3e-4)):
        f, Z, _ = blocking_spectrum(sigma, seed=i)
        b.eis("eis", f, Z)
    results = analyse(b.build(kind="conductivity")).results
    assert results["conductivity_S_cm"].value == pytest.approx(3e-4, rel=0.02)
    assert results["eis_fit"].source["steps"] == [2]


def test_no_spectrum_no_results() -> None:
    b = RunBuilder()
    b.cc("rest", 0.0, 60.0, 0.0)
    assert analyse(b.build(kind="conductivity")).results == {}


def test_formula() -> None:
    # 100 µm, 1 cm², 10 Ω → 1e-4 m / (10 Ω · 1e-4 m²) = 0.1 S/m = 1e-3 S/cm
    assert conductivity_S_cm(10.0, 100e-6, 1e-4) == pytest.approx(1e-3)
