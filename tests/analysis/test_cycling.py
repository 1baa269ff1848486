"""The per-cycle table of cycling runs, on hand-built cathode and anode half cells whose
every number follows from the points by formula; and dQ/dV, dV/dQ on known curves."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cyclerctl.analysis import analyse
from cyclerctl.analysis.cycling import COLUMNS
from cyclerctl.analysis.dqdv import differential_capacity, dq_dv_binned, dv_dq_binned
from cyclerctl.analysis.electrode import working_electrode
from cyclerctl.plan import CellSummary
from tests.analysis.factory import RunBuilder

MASS_KG = 1e-6  # 1 mg of active material
AREA_M2 = 1e-4  # 1 cm²
I_A = 1e-3
CC_S, CV_S, TAU_S = 3000.0, 600.0, 120.0
#: discharge seconds per cycle: reference (cycle 2, after 1 formation cycle) 2800 s;
#: cycle 5 is the first below 80 % of it (2200 / 2800 = 0.786)
DISCHARGE_S = (2900.0, 2800.0, 2600.0, 2400.0, 2200.0, 2100.0)


def _cell(chemistry: str) -> CellSummary:
    return CellSummary(
        name="hand-built", chemistry=chemistry, area_m2=AREA_M2, nominal_capacity_Ah=None,
        active_mass_kg=MASS_KG,
    )  # fmt: skip


def _energies(b: RunBuilder) -> None:
    """Fill each step's charge/discharge Wh with ∫V dQ of its points (trapezoids)."""
    for i, step in enumerate(b.steps):
        rows = b.samples[i]
        dq = np.diff(rows["Q"])
        e = 0.5 * (rows["V"][1:] + rows["V"][:-1]) * dq / 3600.0
        b.steps[i] = dataclasses.replace(
            step, charge_Wh=float(e[dq > 0].sum()), discharge_Wh=float(-e[dq < 0].sum())
        )


def _trapz(y: np.ndarray[Any, Any], x: np.ndarray[Any, Any]) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def _cccv_points() -> tuple[np.ndarray[Any, Any], ...]:
    t_cc = np.linspace(0.0, CC_S, 301)
    t_cv = np.linspace(CC_S, CC_S + CV_S, 61)[1:]
    t = np.concatenate([t_cc, t_cv])
    V = np.concatenate([3.6 + 0.7 * t_cc / CC_S, np.full(t_cv.size, 4.3)])
    I = np.concatenate([np.full(t_cc.size, I_A), I_A * np.exp(-(t_cv - CC_S) / TAU_S)])
    return t, V, I


def cathode_run(**options: Any) -> Any:
    b = RunBuilder(cell=_cell("NCM622|Li"))
    t, V, I = _cccv_points()
    for k, seconds in enumerate(DISCHARGE_S, start=1):
        b.step("charge", "cccv", t, V, I, cycle=k, end_reason="limit:current")
        b.cc("rest", 0.0, 600.0, 4.25, cycle=k)
        b.cc("discharge", -I_A, seconds, lambda s, d=seconds: 4.2 - 1.2 * s / d, cycle=k)
        b.cc("rest", 0.0, 600.0, 3.1, cycle=k)
    _energies(b)
    return b.build(kind="cycling", formation_cycles=1, **options)


def test_cathode_table_follows_from_the_points() -> None:
    results = analyse(cathode_run()).results
    rows = results["cycles"].data
    assert [list(r) for r in rows] == [list(COLUMNS)] * len(DISCHARGE_S)
    t, V, I = _cccv_points()
    q_cc = I_A * CC_S
    q_cv = _trapz(I[300:], t[300:])
    q_in_mAh = (q_cc + q_cv) / 3.6
    e_in = _trapz(I * V, t) / 3600.0  # Wh
    for row, seconds in zip(rows, DISCHARGE_S, strict=True):
        q_out_mAh = I_A * seconds / 3.6
        assert row["charge_capacity_mAh"] == pytest.approx(q_in_mAh, rel=1e-9)
        assert row["discharge_capacity_mAh"] == pytest.approx(q_out_mAh, rel=1e-9)
        assert row["charge_capacity_mAh_g"] == pytest.approx(q_in_mAh / 1e-3, rel=1e-9)
        assert row["discharge_capacity_mAh_g"] == pytest.approx(q_out_mAh / 1e-3, rel=1e-9)
        assert row["discharge_capacity_mAh_cm2"] == pytest.approx(q_out_mAh, rel=1e-9)
        assert row["coulombic_efficiency"] == pytest.approx(q_out_mAh / q_in_mAh, rel=1e-9)
        assert row["charge_energy_mWh"] == pytest.approx(e_in * 1e3, rel=1e-9)
        assert row["mean_discharge_voltage_V"] == pytest.approx(3.6, rel=1e-9)  # linear 4.2→3.0
        assert row["mean_charge_voltage_V"] == pytest.approx(e_in * 1e3 / q_in_mAh, rel=1e-9)
        e_out = 3.6 * q_out_mAh  # mWh
        assert row["discharge_energy_mWh"] == pytest.approx(e_out, rel=1e-9)
        assert row["discharge_energy_Wh_kg"] == pytest.approx(e_out * 1e-3 / MASS_KG, rel=1e-9)
        assert row["energy_efficiency"] == pytest.approx(e_out / (e_in * 1e3), rel=1e-9)
        assert row["voltage_hysteresis_V"] == pytest.approx(e_in * 1e3 / q_in_mAh - 3.6)
        assert row["cv_charge_fraction"] == pytest.approx(q_cv / (q_cc + q_cv), rel=1e-9)
        assert row["retention"] == pytest.approx(seconds / DISCHARGE_S[1], rel=1e-9)
    ces = [I_A * s / 3.6 / q_in_mAh for s in DISCHARGE_S]
    assert results["first_cycle_ce"].value == pytest.approx(ces[0])
    assert results["mean_ce"].value == pytest.approx(np.mean(ces[1:]))
    assert results["capacity_retention"].value == pytest.approx(DISCHARGE_S[-1] / DISCHARGE_S[1])
    assert results["cycle_at_80pct_retention"].value == 5
    meta = results["cycles_metadata"].data
    assert meta["working_electrode"] == "cathode" and meta["reference_cycle"] == 2
    assert meta["formation_cycles"] == [1] and meta["cycle_order"] == "charge then discharge"
    assert "positive current" in meta["charge"]


def test_retention_not_crossed_is_said_so() -> None:
    b = RunBuilder(cell=_cell("LCO|Li"))
    for k in (1, 2, 3):
        b.cc("charge", I_A, 3000.0, 4.0, cycle=k)
        b.cc("discharge", -I_A, 2990.0, 3.8, cycle=k)
    results = analyse(b.build(kind="cycling")).results
    crossing = results["cycle_at_80pct_retention"]
    assert crossing.value is None and crossing.source["note"] == "not reached"
    assert results["cycles_metadata"].data["reference_cycle"] == 1


def anode_run(chemistry: str = "Graphite|Li", **options: Any) -> Any:
    b = RunBuilder(cell=_cell(chemistry))
    for k in (1, 2, 3):
        b.cc("lithiation", -I_A, 3000.0, lambda s: 1.0 - 0.99 * s / 3000.0, cycle=k)
        b.cc("rest", 0.0, 600.0, 0.1, cycle=k)
        b.cc("delithiation", I_A, 2900.0, lambda s: 0.05 + 0.95 * s / 2900.0, cycle=k)
    _energies(b)
    return b.build(kind="cycling", **options)


def test_anode_half_cell_charge_is_lithiation() -> None:
    results = analyse(anode_run()).results
    row = results["cycles"].data[0]
    assert row["charge_capacity_mAh"] == pytest.approx(3000 * I_A / 3.6)  # lithiation
    assert row["discharge_capacity_mAh"] == pytest.approx(2900 * I_A / 3.6)  # delithiation
    assert row["coulombic_efficiency"] == pytest.approx(2900 / 3000)
    assert row["mean_charge_voltage_V"] == pytest.approx(0.505)
    assert row["mean_discharge_voltage_V"] == pytest.approx(0.525)
    assert row["voltage_hysteresis_V"] == pytest.approx(0.02)  # oxidation minus reduction
    assert row["energy_efficiency"] == pytest.approx(0.505 * 3000 / (0.525 * 2900))
    meta = results["cycles_metadata"].data
    assert meta["working_electrode"] == "anode" and "Graphite" in meta["decided_by"]
    assert meta["cycle_order"] == "charge then discharge"
    assert "lithiation of the anode" in meta["charge"]


def test_working_electrode_option_wins_and_is_checked() -> None:
    results = analyse(anode_run("Mystery|Li", working_electrode="anode")).results
    assert results["cycles_metadata"].data["decided_by"] == "[analysis] working_electrode"
    assert results["cycles"].data[0]["coulombic_efficiency"] == pytest.approx(2900 / 3000)
    # unknown material: the instrument's convention, positive current = charge
    unknown = analyse(anode_run("Mystery|Li")).results["cycles"].data[0]
    assert unknown["charge_capacity_mAh"] == pytest.approx(2900 * I_A / 3.6)
    with pytest.raises(ValueError, match="working_electrode = 'both'"):
        working_electrode("NCM622|Li", {"working_electrode": "both"})
    for chemistry, role in (("Si|Li", "anode"), ("LTO|Li", "anode"), ("LFP|Li", "cathode"),
                            ("SiOx/C|Li", "anode"), ("S|Li", "cathode")):  # fmt: skip
        assert working_electrode(chemistry, {}).role == role, chemistry


# -- differential capacity ----------------------------------------------------------------


def test_dqdv_of_a_straight_line_is_flat_and_keeps_the_charge() -> None:
    V = np.linspace(3.0, 4.0, 201)  # a point every 5 mV, bins of 10 mV
    q = np.linspace(0.0, 1.0, 201)  # mAh
    centres, dqdv = dq_dv_binned(V, q, +1, 0.010)
    assert centres[0] == pytest.approx(3.005) and centres.size == 100
    np.testing.assert_allclose(dqdv, 1.0, rtol=1e-9)
    _, falling = dq_dv_binned(V[::-1], q, -1, 0.010)
    np.testing.assert_allclose(falling, 1.0, rtol=1e-9)
    qc, dvdq = dv_dq_binned(q, V, 50)
    np.testing.assert_allclose(dvdq, 1.0, rtol=1e-6)
    assert qc.size == 50


def test_dqdv_puts_a_plateau_charge_in_its_bin() -> None:
    q = np.linspace(0.0, 1.0, 1001)
    V = np.interp(q, [0.0, 0.4, 0.8, 1.0], [3.0, 3.452, 3.453, 4.0])
    rng = np.random.default_rng(15)
    V = V + rng.normal(0.0, 2e-4, V.size)  # 0.2 mV of noise: monotone envelope absorbs it
    centres, dqdv = dq_dv_binned(V, q, +1, 0.010)
    assert float(np.sum(dqdv) * 0.010) == pytest.approx(1.0, rel=1e-3)
    peak = int(np.argmax(dqdv))
    assert centres[peak] == pytest.approx(3.455)
    assert dqdv[peak] * 0.010 == pytest.approx(0.4, rel=0.03)  # the plateau's 0.4 mAh
    with pytest.raises(ValueError, match="bin width"):
        dq_dv_binned(V, q, +1, 0.0)


def test_differential_capacity_of_a_run_leaves_the_cv_out() -> None:
    run = cathode_run()
    curves = differential_capacity(run, [1, 6])
    assert [(c.cycle, c.half) for c in curves] == [
        (1, "charge"), (1, "discharge"), (6, "charge"), (6, "discharge"),
    ]  # fmt: skip
    charge = curves[0]
    assert charge.capacity_unit == "mAh/g"
    total = analyse(run).results["cycles"].data[0]["charge_capacity_mAh_g"]
    assert charge.capacity[-1] == pytest.approx(total, rel=1e-9)  # the profile keeps the CV
    cc_only = I_A * CC_S / 3.6 / 1e-3
    assert float(np.sum(charge.dqdv) * 0.010) == pytest.approx(cc_only, rel=1e-6)
    assert charge.dqdv_V.max() < 4.3 + 0.010
    assert "10 mV" in charge.method
    with pytest.raises(ValueError, match="no galvanostatic points in cycles \\[99\\]"):
        differential_capacity(run, [99])
