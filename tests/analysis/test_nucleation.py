"""Nucleation overpotential of a plating transient with a known dip and plateau."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.nucleation import nucleation
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

ETA_NUCLEATION = 0.050
ETA_PLATEAU = 0.030
T_DIP = 30.0


def transient(t: np.ndarray) -> np.ndarray:
    """−η_p − η_n (t/t_d) e^(1 − t/t_d): the dip reaches −(η_p + η_n) at t_d, then the
    voltage recovers to the plateau −η_p (growth on the nuclei)."""
    return -ETA_PLATEAU - ETA_NUCLEATION * (t / T_DIP) * np.exp(1 - t / T_DIP)


def nucleation_run(seed: int = 4) -> RunData:
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2))
    b.cc("rest", 0.0, 600.0, 0.8, points=60)
    t = np.arange(0.0, 7200.0, 1.0)  # 1 mAh/cm² at 0.5 mA/cm², a point a second
    V = transient(t) + np.random.default_rng(seed).normal(0.0, 0.5e-3, t.size)
    b.step("plate", "cc", t, V, np.full(t.size, -0.5e-3 * DISK_12MM_M2 * 1e4))
    return b.build(kind="nucleation")


def test_nucleation_and_plateau_overpotentials() -> None:
    results = analyse(nucleation_run()).results
    assert results["nucleation_overpotential_mV"].value == pytest.approx(50.0, rel=0.10)
    assert results["plateau_overpotential_mV"].value == pytest.approx(30.0, rel=0.10)
    source = results["nucleation_overpotential_mV"].source
    assert source["dip_after_s"] == pytest.approx(T_DIP, abs=15)
    assert source["steps"] == [2]


def test_the_windows_count_from_the_onset_of_deposition_not_the_sei_shoulder() -> None:
    # a short plate (0.25 mAh/cm²) on fresh Cu: the first 700 s are the fall from the OCV and
    # the SEI shoulder near 0.8 V; 20 % of the whole step would fall inside the shoulder
    t = np.arange(0.0, 1800.0, 1.0)
    shoulder = 700.0
    V = np.where(t < shoulder, 0.8, transient(t - shoulder))
    found = nucleation(t, V)
    assert found is not None
    assert found.nucleation_overpotential_mV == pytest.approx(50.0, rel=0.02)
    assert found.dip_t_s == pytest.approx(shoulder + T_DIP, abs=2)
    assert found.plateau_V == pytest.approx(-ETA_PLATEAU, abs=2e-3)


def test_too_few_points() -> None:
    assert nucleation(np.array([0.0, 1.0]), np.array([-0.1, -0.1])) is None


def test_plateau_with_and_without_the_ir_drop() -> None:
    run = nucleation_run()
    results = analyse(run).results
    assert "IR" in results["plateau_overpotential_mV"].source["includes"]
    assert "series_resistance" in results["ir_correction_missing_reason"].data
    run = dataclasses.replace(run, options={**run.options, "series_resistance": "10 ohm"})
    results = analyse(run).results
    I = 0.5e-3 * DISK_12MM_M2 * 1e4
    corrected = results["plateau_overpotential_ir_corrected_mV"]
    assert corrected.value == pytest.approx(30.0 - I * 10.0 * 1e3, rel=0.1)
    assert corrected.source["resistance_from"] == "[analysis] series_resistance"


def test_ir_from_the_current_interrupt_after_the_plate() -> None:
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2))
    I = -0.5e-3 * DISK_12MM_M2 * 1e4
    R = 8.0
    t = np.arange(0.0, 7200.0, 1.0)
    b.step("plate", "cc", t, transient(t) + I * R, np.full(t.size, I))
    # at open circuit the ohmic part vanishes at once: V jumps from −η_p + IR to −η_p
    b.step("rest", "rest", np.arange(0.0, 60.0, 1.0), np.full(60, -ETA_PLATEAU), np.zeros(60))
    results = analyse(b.build(kind="nucleation")).results
    corrected = results["plateau_overpotential_ir_corrected_mV"]
    assert corrected.source["series_resistance_ohm"] == pytest.approx(R, rel=0.02)
    assert corrected.value == pytest.approx(ETA_PLATEAU * 1e3, rel=0.05)
