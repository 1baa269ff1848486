"""Li|Li cycling: overpotential per half-cycle and the short."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.analysis import RunData, analyse
from tests.analysis.factory import DISK_12MM_M2, RunBuilder, cell

AREA_CM2 = DISK_12MM_M2 * 1e4
I_A = 0.5e-3 * AREA_CM2
HOUR = 3600.0


def lili_run(cycles: int, short_in_cycle: int | None) -> RunData:
    """1 h half-cycles; the overpotential grows from 25 mV by 1 mV a cycle; a short makes
    the plate of ``short_in_cycle`` collapse to ~0 V."""
    b = RunBuilder(cell=cell(area_m2=DISK_12MM_M2))
    rng = np.random.default_rng(5)
    for k in range(1, cycles + 1):
        eta = 0.025 + 0.001 * (k - 1)
        for name, sign in (("strip", 1.0), ("plate", -1.0)):
            t = np.linspace(0.0, HOUR, 60)
            V = sign * eta * (1 + 0.01 * rng.standard_normal(t.size))
            V[0] = sign * 2 * eta  # the first-point spike the median ignores
            shorts = k == short_in_cycle and sign < 0
            if shorts:
                t, V = t[:30], np.concatenate([V[:25], np.full(5, -1e-4)])
            b.step(name, "cc", t, V, np.full(t.size, sign * I_A), cycle=k,
                   end_reason="short" if shorts else "limit:charge")  # fmt: skip
            if shorts:
                return b.build(end_reason="short", kind="li-li-cycling")
    return b.build(kind="li-li-cycling")


def test_cycles_overpotential_and_short() -> None:
    results = analyse(lili_run(10, short_in_cycle=6)).results
    assert results["cycles_completed"].value == 5
    # 11 half-cycles that did not short: 5 full cycles and the strip of cycle 6
    expected = (2 * sum(25 + k for k in range(5)) + 30) / 11
    assert results["mean_overpotential_mV"].value == pytest.approx(expected, rel=0.01)
    assert results["mean_overpotential_mV"].unit == "mV"
    short_step = analyse(lili_run(10, 6)).results["short_at_h"].source["steps"][0]
    assert results["short_at_h"].value == pytest.approx(
        (5 * 2 * HOUR + HOUR + HOUR * 29 / 59) / HOUR
    )
    assert short_step == 12
    table = results["overpotential_by_cycle"].data
    assert [row["cycle"] for row in table] == [1, 2, 3, 4, 5, 6]
    assert table[0]["strip_mV"] == pytest.approx(25.0, rel=0.01)
    assert table[0]["plate_mV"] == pytest.approx(25.0, rel=0.01)
    assert table[5]["complete"] is False and table[5]["plate_mV"] is None


def test_no_short_no_short_time() -> None:
    results = analyse(lili_run(4, short_in_cycle=None)).results
    assert results["cycles_completed"].value == 4
    assert "short_at_h" not in results
