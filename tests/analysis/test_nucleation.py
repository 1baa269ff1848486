"""Nucleation overpotential of a plating transient with a known dip and plateau."""

from __future__ import annotations

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


def test_too_few_points() -> None:
    assert nucleation(np.array([0.0, 1.0]), np.array([-0.1, -0.1])) is None
