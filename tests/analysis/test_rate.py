"""Rate capability of an LCO half-cell with known capacity per rate."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.rate import rate_label, snap
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

MASS_KG = 5e-6 * DISK_12MM_M2 * 1e4  # 5 mg/cm²
NOMINAL_AH = 0.140 * MASS_KG * 1e3  # 140 mAh/g
RATES = ["0.1C", "0.2C", "0.5C", "1C", "2C", "0.1C"]


def capacity_mAh_g(rate: float, returned: bool) -> float:
    """130 mAh/g at 0.1C falling with rate; 2 % lost by the time 0.1C comes back."""
    return (130.0 - 15.0 * rate) * (0.98 if returned else 1.0)


def rate_run(with_mass: bool = True) -> RunData:
    mass = MASS_KG if with_mass else None
    c = cell(area_m2=DISK_12MM_M2, nominal_capacity_Ah=NOMINAL_AH, active_mass_kg=mass)
    b = RunBuilder(cell=c, parameters={"rates": RATES, "cycles_per_rate": 3})
    cycle = 0
    for i, text in enumerate(RATES):
        rate = float(text.rstrip("C"))
        I = rate * NOMINAL_AH * 1.03  # the instrument's current is 3 % off the nominal rate
        q_Ah = capacity_mAh_g(rate, returned=i == len(RATES) - 1) * MASS_KG
        for _ in range(3):
            cycle += 1
            t = np.linspace(0.0, q_Ah * 3600.0 / I, 50)
            b.step("charge", "cccv", t, np.full(50, 4.1), np.full(50, I), cycle=cycle)
            b.step(
                "rest", "rest", np.linspace(0, 600, 5), np.full(5, 4.1), np.zeros(5), cycle=cycle
            )
            b.step("discharge", "cc", t, np.full(50, 3.7), np.full(50, -I), cycle=cycle)
    return b.build(kind="rate-capability")


def test_rate_table_scalars_and_recovery() -> None:
    results = analyse(rate_run()).results
    table = results["rate_capability"].data
    assert [row["rate_C"] for row in table] == [0.1, 0.2, 0.5, 1.0, 2.0, 0.1]
    assert all(row["cycles"] == 3 for row in table)
    for row, returned in zip(table, [False] * 5 + [True], strict=True):
        expected = capacity_mAh_g(row["rate_C"], returned)
        assert row["discharge_mAh_g"] == pytest.approx(expected, rel=1e-3)
        assert row["discharge_mAh"] == pytest.approx(expected * MASS_KG * 1e3, rel=1e-3)
    assert results["discharge_mAh_g_0p1C"].value == pytest.approx(128.5, rel=1e-3)
    assert results["discharge_mAh_g_2C"].value == pytest.approx(100.0, rel=1e-3)
    assert results["discharge_mAh_g_0p5C"].unit == "mAh/g"
    assert results["capacity_recovery"].value == pytest.approx(0.98, rel=1e-3)


def test_without_mass_capacities_are_in_mAh() -> None:
    results = analyse(rate_run(with_mass=False)).results
    assert "discharge_mAh_g_0p1C" not in results
    assert results["discharge_mAh_0p1C"].unit == "mAh"
    assert results["rate_capability"].data[0]["discharge_mAh_g"] is None


def test_labels_and_snapping() -> None:
    assert [rate_label(r) for r in (0.1, 0.2, 0.5, 1.0, 2.0, 0.05)] == [
        "0p1", "0p2", "0p5", "1", "2", "0p05",
    ]  # fmt: skip
    assert snap(0.104, [0.1, 0.2, 0.5]) == 0.1
    assert snap(0.16, [0.1, 0.2, 0.5]) == 0.2
    assert snap(0.333, []) == 0.333


def test_ce_per_rate_and_retention_against_the_slowest() -> None:
    table = analyse(rate_run()).results["rate_capability"].data
    slowest = capacity_mAh_g(0.1, returned=False)
    for row, returned in zip(table, [False] * 5 + [True], strict=True):
        assert row["coulombic_efficiency"] == pytest.approx(1.0, rel=1e-9)  # charge = discharge
        expected = 100.0 * capacity_mAh_g(row["rate_C"], returned) / slowest
        assert row["retention_pct_of_slowest"] == pytest.approx(expected, rel=1e-6)
    assert table[4]["retention_pct_of_slowest"] == pytest.approx(100.0 * 100.0 / 128.5, rel=1e-6)
