"""Adams' average Coulombic efficiency on a Li|Cu run with known losses."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from cyclerctl.analysis.coulombic import average_ce
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

AREA_CM2 = DISK_12MM_M2 * 1e4
I_A = 0.5e-3 * AREA_CM2  # 0.5 mA/cm²
MAH_CM2 = 1e-3 * AREA_CM2  # 1 mAh/cm² in Ah
CE_TRUE = 0.985
N = 10


def li_cu_run(
    *,
    short_in_cycle: int | None = None,
    final_end: str = "limit:voltage",
    final_strip: bool = True,
    reservoir_out_in_cycle: int | None = None,
    sei_formation: float = 0.0,
) -> RunData:
    """Conditioning 5 mAh/cm² (CE 0.95), Qt = 5, Qc = 0.5 mAh/cm² × 10, then the final strip
    of what an average CE of 0.985 leaves; currents carry 0.3 % seeded noise."""
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2), parameters={"cycle_capacity": "0.5 mAh/cm^2"})
    rng = np.random.default_rng(3)

    def cc(
        name: str, sign: float, charge_Ah: float, cycle: int = 0, end_reason: str = "time"
    ) -> None:
        t = np.linspace(0.0, charge_Ah * 3600.0 / I_A, 120)
        I = sign * I_A * (1 + 0.003 * rng.standard_normal(t.size))
        V = np.full(t.size, 0.02 * sign)
        b.step(name, "cc", t, V, I, cycle=cycle, end_reason=end_reason)

    if sei_formation:  # the fall from the fresh cell's OCV, in a step of its own
        cc("SEI formation", -1, sei_formation * MAH_CM2, end_reason="limit:voltage")
    cc("conditioning plate", -1, 5 * MAH_CM2, end_reason="limit:charge")
    cc("conditioning strip", +1, 0.95 * 5 * MAH_CM2, end_reason="limit:voltage")
    qt, qc = 5 * MAH_CM2, 0.5 * MAH_CM2
    cc("reservoir plate", -1, qt, end_reason="limit:charge")
    for k in range(1, N + 1):
        if k == reservoir_out_in_cycle:  # the strip hits the cut-off; the protocol goes on
            cc("cycle strip", +1, 0.3 * qc, cycle=k, end_reason="limit:voltage")
        else:
            cc("cycle strip", +1, qc, cycle=k, end_reason="limit:charge")
        if k == short_in_cycle:
            cc("cycle plate", -1, 0.4 * qc, cycle=k, end_reason="short")
            return b.build(end_reason="short", kind="li-cu-ce")
        cc("cycle plate", -1, qc, cycle=k, end_reason="limit:charge")
    if final_strip:
        qs = CE_TRUE * (qt + N * qc) - N * qc
        cc("final strip", +1, qs, end_reason=final_end)
    return b.build(end_reason="completed" if final_strip else "safety:voltage_max", kind="li-cu-ce")


def test_average_ce_recovers_the_truth() -> None:
    results = analyse(li_cu_run()).results
    ce = results["ce_avg"]
    assert ce.value == pytest.approx(CE_TRUE, abs=0.002)
    assert ce.unit == "1"
    assert ce.source["n"] == N
    assert ce.source["Qc_mAh"] == pytest.approx(0.5 * MAH_CM2 * 1e3, rel=0.01)
    assert ce.source["Qc_parameter_mAh"] == pytest.approx(0.5 * MAH_CM2 * 1e3)
    assert "measured" in ce.source["Qc"]
    assert results["conditioning_ce"].value == pytest.approx(0.95, abs=0.002)
    assert results["cycles_completed"].value == N
    assert "ce_avg_missing_reason" not in results


def test_the_conditioning_ce_counts_the_sei_formation_step_as_plated() -> None:
    results = analyse(li_cu_run(sei_formation=0.2)).results
    conditioning = results["conditioning_ce"]
    assert conditioning.value == pytest.approx(0.95 * 5 / 5.2, abs=0.002)
    assert conditioning.source["sei_formation_mAh"] == pytest.approx(0.2 * MAH_CM2 * 1e3, rel=0.01)
    assert results["ce_avg"].value == pytest.approx(CE_TRUE, abs=0.002)  # unaffected


def test_a_short_before_the_end_leaves_ce_avg_out_with_a_reason() -> None:
    results = analyse(li_cu_run(short_in_cycle=4)).results
    assert "ce_avg" not in results
    reason = results["ce_avg_missing_reason"]
    assert reason.value is None and "short" in reason.data
    assert results["conditioning_ce"].value == pytest.approx(0.95, abs=0.002)


def test_a_short_on_the_run_alone_also_counts() -> None:
    shorted = dataclasses.replace(li_cu_run(), end_reason="short")
    assert "short" in analyse(shorted).results["ce_avg_missing_reason"].data


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"final_end": "time"}, "not on the voltage cut-off"),
        ({"final_strip": False}, "no final strip"),
        ({"reservoir_out_in_cycle": 6}, "reservoir ran out"),
    ],
)
def test_incomplete_tests_leave_ce_avg_out(kwargs: dict[str, Any], words: str) -> None:
    results = analyse(li_cu_run(**kwargs)).results
    assert "ce_avg" not in results
    assert words in results["ce_avg_missing_reason"].data


def test_formula() -> None:
    assert average_ce(Qt=5.0, Qs=4.0, n=10, Qc=0.5) == pytest.approx(9.0 / 10.0)


def test_per_cycle_table() -> None:
    results = analyse(li_cu_run()).results
    table = results["li_cu_cycles"].data
    assert [row["cycle"] for row in table] == list(range(1, N + 1))
    for row in table:
        # the currents carry 0.3 % noise, so do the charges
        assert row["strip_mAh"] == pytest.approx(0.5 * MAH_CM2 * 1e3, rel=0.003)
        assert row["strip_plate_ratio"] == pytest.approx(1.0, rel=0.003)
        assert row["strip_overpotential_mV"] == pytest.approx(20.0)  # |V| = 20 mV
        assert row["plate_overpotential_mV"] == pytest.approx(20.0)
    assert results["conditioning_ce"].value == pytest.approx(0.95, rel=0.003)


def test_per_cycle_table_shows_where_the_reservoir_ran_out() -> None:
    table = analyse(li_cu_run(reservoir_out_in_cycle=4)).results["li_cu_cycles"].data
    row = table[3]
    assert row["strip_end_reason"] == "limit:voltage"
    assert row["strip_plate_ratio"] == pytest.approx(0.3, rel=0.003)
