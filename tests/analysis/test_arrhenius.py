"""Activation energy from spectra at several temperatures of a membrane with known Ea."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.arrhenius import BOLTZMANN_eV_K, fit_arrhenius
from tests.analysis.factory import DISK_16MM_M2, RunBuilder, cell
from tests.analysis.test_conductivity import THICKNESS_M, blocking_spectrum

EA_EV = 0.30
SIGMA_30C = 3e-4  # S/cm


def sigma_at(T_K: float) -> float:
    return SIGMA_30C * math.exp(-EA_EV / BOLTZMANN_eV_K * (1 / T_K - 1 / 303.15))


def arrhenius_run(
    temperatures_C: list[float], thickness: float | None = THICKNESS_M, **options: str
) -> RunData:
    b = RunBuilder(cell=cell(area_m2=DISK_16MM_M2, thickness_m=thickness))
    rng = np.random.default_rng(7)
    for i, T_C in enumerate(temperatures_C):
        T = T_C + 273.15
        b.cc("set temperature", 0.0, 1800.0, 0.0, T_K=T, cycle=0)
        f, Z, _ = blocking_spectrum(sigma_at(T), seed=100 + i)
        b.eis("eis", f, Z, T_K=T)
        # the chamber wobbles by ±0.1 K during the spectrum
        b.spectra[-1]["T"] += rng.normal(0.0, 0.1, f.size)
    return b.build(kind="arrhenius", **options)


TEMPERATURES_C = [30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]


def test_activation_energy_and_table() -> None:
    run = arrhenius_run(TEMPERATURES_C, reference_temperature="25 degC")
    results = analyse(run).results
    ea = results["activation_energy_eV"]
    assert ea.value == pytest.approx(EA_EV, rel=0.05)
    assert ea.unit == "eV" and ea.source["r2"] > 0.99
    stderr = results["activation_energy_stderr_eV"].value
    assert stderr is not None and stderr < 0.01
    table = results["conductivity_vs_temperature"].data
    assert [round(row["temperature_C"]) for row in table] == TEMPERATURES_C
    for row in table:
        assert row["conductivity_S_cm"] == pytest.approx(sigma_at(row["temperature_K"]), rel=0.02)
        assert row["bulk_resistance_ohm"] > 0
    assert results["conductivity_S_cm"].value == pytest.approx(sigma_at(298.15), rel=0.02)
    assert results["conductivity_S_cm"].source["reference_temperature_K"] == pytest.approx(298.15)


def test_without_thickness_ea_comes_from_the_resistances() -> None:
    results = analyse(arrhenius_run(TEMPERATURES_C, thickness=None)).results
    assert results["activation_energy_eV"].value == pytest.approx(EA_EV, rel=0.05)
    assert results["activation_energy_eV"].source["fitted"] == "ln(1/R_b)"
    assert all(
        row["conductivity_S_cm"] is None for row in results["conductivity_vs_temperature"].data
    )


def test_fewer_than_two_temperatures_no_activation_energy() -> None:
    results = analyse(arrhenius_run([30.0], reference_temperature="25 degC")).results
    assert "activation_energy_eV" not in results
    assert "conductivity_S_cm" not in results
    assert len(results["conductivity_vs_temperature"].data) == 1


def test_two_temperatures_give_ea_without_a_standard_error() -> None:
    results = analyse(arrhenius_run([30.0, 90.0])).results
    assert results["activation_energy_eV"].value == pytest.approx(EA_EV, rel=0.05)
    assert "activation_energy_stderr_eV" not in results


def test_fit_arrhenius_exact() -> None:
    T = np.array([300.0, 320.0, 340.0])
    fit = fit_arrhenius(T, 5.0 * np.exp(-0.5 / (BOLTZMANN_eV_K * T)))
    assert fit.activation_energy_eV == pytest.approx(0.5)
    assert fit.at(330.0) == pytest.approx(5.0 * np.exp(-0.5 / (BOLTZMANN_eV_K * 330.0)))
    with pytest.raises(ValueError):
        fit_arrhenius(np.array([300.0, 300.0]), np.array([1.0, 2.0]))


def test_ea_in_kj_mol_prefactor_and_form() -> None:
    results = analyse(arrhenius_run(TEMPERATURES_C)).results
    ea = results["activation_energy_eV"].value
    assert ea is not None
    assert results["activation_energy_kJ_mol"].value == pytest.approx(ea * 96.485, rel=1e-4)
    err = results["activation_energy_stderr_eV"].value
    assert err is not None
    assert results["activation_energy_stderr_kJ_mol"].value == pytest.approx(err * 96.485, rel=1e-4)
    # σ = A exp(−Ea/kT): A = σ(30 °C) exp(Ea / k·303.15 K)
    A = SIGMA_30C * math.exp(EA_EV / (BOLTZMANN_eV_K * 303.15))
    assert results["arrhenius_prefactor"].value == pytest.approx(A, rel=0.1)
    assert results["arrhenius_prefactor"].unit == "S/cm"
    assert results["activation_energy_eV"].source["form"] == "sigma"
    assert "sigma_T" in results["activation_energy_eV"].source["other_form"]


def test_the_sigma_t_form_by_option() -> None:
    """ln σT vs 1/T on data that follow σ = A e^(−Ea/kT): the slope gains about k_B T̄."""
    results = analyse(arrhenius_run(TEMPERATURES_C, form="sigma_T")).results
    T_mean = sum(TEMPERATURES_C) / len(TEMPERATURES_C) + 273.15
    assert results["activation_energy_eV"].value == pytest.approx(
        EA_EV + BOLTZMANN_eV_K * T_mean, abs=0.005
    )
    assert results["activation_energy_eV"].source["fitted"] == "ln(sigma * T)"
    assert results["arrhenius_prefactor"].unit == "S/cm*K"


def test_an_unknown_form_is_refused() -> None:
    with pytest.raises(ValueError, match="form = 'log'"):
        analyse(arrhenius_run(TEMPERATURES_C, form="log"))


def test_each_spectrum_is_kk_checked_and_its_fit_kept_by_temperature() -> None:
    results = analyse(arrhenius_run(TEMPERATURES_C)).results
    kk = results["kk_check"]
    assert kk.source["all_valid"] is True
    assert [row["label"] for row in kk.data] == [f"{t:.0f} °C" for t in TEMPERATURES_C]
    fits = results["eis_fits"].data
    assert [row["label"] for row in fits] == [f"{t:.0f} °C" for t in TEMPERATURES_C]
    assert all(row["circuit"] and row["bulk_resistance_ohm"] > 0 for row in fits)
