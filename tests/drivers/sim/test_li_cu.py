"""The li-cu cell: Adams' average CE, the strip cut-off at Li exhaustion, a fresh cell's
2.8 V OCV and its SEI on the first plating, bare Cu drifting back up at rest, the nucleation
dip, the plating overpotential, the short, impedance and temperature."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.base import Channel
from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.li_cu import LiCuCell
from cyclerctl.plan import CellSummary

from .helpers import channel, rest, run, step, until

DISK_M2 = math.pi * 0.006**2
MEMBRANE_M = 100e-6
K_B_EV = 8.617333262e-5
A_M2_PER_MA_CM2 = 10.0
C_PER_MAH_CM2 = 3.6 * 1e4 * DISK_M2  # 1 mAh/cm² on this disk, in C
QUIET = {"noise": 0, "current_noise": 0}
SIGMA_25C_S_M = 3e-2 * math.exp(-0.30 / K_B_EV * (1 / 298.15 - 1 / 303.15))
R_B = MEMBRANE_M / (SIGMA_25C_S_M * DISK_M2)
R_CT = 0.030 / 5.0 / DISK_M2  # 30 mV at 0.5 mA/cm² = 60 Ω·cm²
#: a fresh cell's Cu rests at 2.8 V, on the curve's 1.2 → 3.4 V line over 0.2 → 20.2 mC/cm²
FRESH_OCV_V = 2.8
FRESH_CU_CHARGE_C = (2.0 + (FRESH_OCV_V - 1.2) / 2.2 * 200.0) * DISK_M2
#: the first plating forms the SEI, 0.1 mAh/cm², at 0.8 V before any Li is deposited
SEI_C = 0.1 * C_PER_MAH_CM2
#: what the first plating passes before Li is deposited: the Cu's charge and the SEI
FRESH_CU_C = FRESH_CU_CHARGE_C + SEI_C


def li_cu_cell(**sim: Any) -> CellSummary:
    """The lab's Li|QSE|Cu coin cell (protocols/cells/li-qse-cu.toml)."""
    return CellSummary(
        name="Li|QSE|Cu 12 mm, 100 um membrane",
        chemistry="Li|QSE|Cu",
        area_m2=DISK_M2,
        nominal_capacity_Ah=None,
        thickness_m=MEMBRANE_M,
        sim={
            "model": "li-cu", "conductivity": "3e-4 S/cm", "reference_temperature": "30 degC",
            "coulombic_efficiency": 0.98, "nucleation_overpotential": "50 mV",
            "plating_overpotential": "30 mV", "temperature": "25 degC", "seed": 501, **sim,
        },
    )


def model(**sim: Any) -> LiCuCell:
    built = build_cell_model(li_cu_cell(**QUIET, **sim))
    assert isinstance(built, LiCuCell)
    return built


def current_at(j_mA_cm2: float) -> float:
    return j_mA_cm2 * A_M2_PER_MA_CM2 * DISK_M2


def plate(charge_C: float, j: float = 0.5) -> Any:
    return step("cc", current_A=-current_at(j), ends=until(charge=charge_C, time=50 * 3600.0))


def strip_to_cutoff(j: float = 0.5, cutoff: float = 1.0) -> Any:
    return step("cc", current_A=current_at(j), ends=until(voltage_above=cutoff, time=50 * 3600.0))


# -- Adams' average Coulombic efficiency ------------------------------------------------------


def adams(ch: Channel, n: int = 10, Qt: float = 5.0, Qc: float = 0.5) -> tuple[float, float]:
    """The li-cu-ce protocol's steps; (ce_avg, Qs in C) from the charges the channel reports."""
    run(ch, plate(5.0 * C_PER_MAH_CM2))  # conditioning
    _, status = run(ch, strip_to_cutoff())
    assert status.end_reason == "limit:voltage"
    reservoir, _ = run(ch, plate(Qt * C_PER_MAH_CM2))
    qt = -float(reservoir["Q"][-1])
    plated = []
    for _ in range(n):
        strip = step(
            "cc", current_A=current_at(0.5),
            ends=until(charge=Qc * C_PER_MAH_CM2, voltage_above=1.0, time=5 * 3600.0),
        )
        _, status = run(ch, strip)
        assert status.end_reason == "limit:charge"  # the reservoir did not run out
        points, _ = run(ch, plate(Qc * C_PER_MAH_CM2))
        plated.append(-float(points["Q"][-1]))
    final, status = run(ch, strip_to_cutoff())
    assert status.end_reason == "limit:voltage"
    qs = float(final["Q"][-1])
    qc = sum(plated) / n  # measured, as the analysis does
    return (qs + n * qc) / (qt + n * qc), qs


def test_adams_average_ce_recovers_the_cells_ce() -> None:
    ce_avg, qs = adams(channel(li_cu_cell()))
    assert ce_avg == pytest.approx(0.98, abs=0.002)
    assert ce_avg == pytest.approx(0.98, abs=1e-4)  # in fact: loss on plating has no bias
    # Qs = CE·Qt − n(1 − CE)·Qc, plus the bare Cu's charge up to the 1.0 V cut-off
    expected = (0.98 * 5.0 - 10 * 0.02 * 0.5) * C_PER_MAH_CM2
    assert qs == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("ce", [0.90, 0.995])
def test_adams_average_ce_at_other_efficiencies(ce: float) -> None:
    ce_avg, _ = adams(channel(li_cu_cell(coulombic_efficiency=ce), sample_interval_s=10.0))
    assert ce_avg == pytest.approx(ce, abs=1e-4)


def test_the_strip_ends_on_the_cutoff_within_one_sample_of_li_exhaustion() -> None:
    cell = li_cu_cell(**QUIET)
    ch = channel(cell)
    plated, _ = run(ch, plate(1.0 * C_PER_MAH_CM2))
    inventory = 0.98 * (-float(plated["Q"][-1]) - FRESH_CU_C)
    points, status = run(ch, strip_to_cutoff())
    assert status.end_reason == "limit:voltage"
    assert points["V"][-1] == pytest.approx(1.0, abs=1e-6)
    one_sample_C = current_at(0.5) * 1.0
    assert 0 <= points["Q"][-1] - inventory < one_sample_C
    # while Li was left, the strip sat at +I·(R_b + R_ct)
    assert np.median(points["V"]) == pytest.approx(current_at(0.5) * (R_B + R_CT), rel=1e-9)
    # the bare Cu then drifts back up towards the fresh cell's OCV, as a real Cu does (it
    # does not stay at the cut-off): V = 2.8 + (V_0 − 2.8)·e^(−t/20 min)
    resting, _ = run(ch, rest(3600.0))
    v0 = 1.0 - current_at(0.5) * (R_B + R_CT)
    expected = FRESH_OCV_V + (v0 - FRESH_OCV_V) * np.exp(-resting["t"] / 1200.0)
    assert resting["V"] == pytest.approx(expected, rel=1e-9)
    assert resting["V"][-1] > 2.7


def test_the_inventory_runs_out_even_without_a_cutoff_and_cu_oxidises() -> None:
    cell = model()
    cell.commit(cell.hold_current(-current_at(0.5), np.array([3600.0])), 0)
    inventory = cell.lithium_on_cu_C
    plated = 0.5 * C_PER_MAH_CM2 - FRESH_CU_C
    assert inventory == pytest.approx(0.98 * plated, rel=1e-9)
    assert cell.dead_lithium_C == pytest.approx(0.02 * plated, rel=1e-9)
    i = current_at(0.5)
    t_out = inventory / i
    held = cell.hold_current(i, np.array([t_out - 1, t_out + 0.35, t_out + 1, t_out + 600]))
    assert held.voltage_V[0] == pytest.approx(i * (R_B + R_CT))
    assert held.voltage_V[1] > 1.0  # within 0.35 s of the last Li
    assert held.voltage_V[2] < 1.5  # but a host polling each second sees it under 1.5 V
    assert held.voltage_V[3] > 3.3  # Cu oxidation
    assert held.state[-1, 0] == 0.0


# -- nucleation and plating -------------------------------------------------------------------


def to_zero_volts(j: float = 0.5) -> Any:
    """The protocols' "SEI formation" step: fresh Cu from its OCV down to 0 V."""
    return step("cc", current_A=-current_at(j), ends=until(voltage_below=0.0, time=5 * 3600.0))


def test_a_fresh_cell_rests_high_and_its_first_plating_forms_the_sei() -> None:
    ch = channel(li_cu_cell(**QUIET))
    resting, _ = run(ch, rest(600.0))
    assert resting["V"] == pytest.approx(FRESH_OCV_V)  # not 1 V: Cu against Li, no Li on it
    points, status = run(ch, to_zero_volts())
    assert status.end_reason == "limit:voltage"
    V, Q = points["V"], -points["Q"]
    # the Cu's charge, then the SEI plateau at 0.8 V less the IR drop, then on to 0 V
    on_plateau = (Q > FRESH_CU_CHARGE_C * 1.01) & (Q < FRESH_CU_CHARGE_C + 0.99 * SEI_C)
    assert V[on_plateau] == pytest.approx(0.8 - current_at(0.5) * (R_B + R_CT), rel=1e-9)
    assert Q[-1] == pytest.approx(FRESH_CU_C, rel=1e-3)
    # the SEI's charge never comes back: the conditioning cycle's CE is well below CE
    plated, _ = run(ch, plate(5.0 * C_PER_MAH_CM2))
    stripped, _ = run(ch, strip_to_cutoff())
    first_ce = float(stripped["Q"][-1]) / (Q[-1] - float(plated["Q"][-1]))
    assert first_ce == pytest.approx(0.98 * 5.0 / (5.0 + 0.1), abs=2e-3)
    # and the next plating onto the same (now bare) Cu forms no SEI again
    again, _ = run(ch, to_zero_volts())
    assert -float(again["Q"][-1]) < 0.01 * SEI_C


def test_plating_on_bare_cu_dips_by_the_nucleation_overpotential() -> None:
    ch = channel(li_cu_cell(**QUIET))
    run(ch, rest(600.0))
    run(ch, to_zero_volts())  # as li-cu-nucleation does before its plate step
    points, _ = run(ch, plate(1.0 * C_PER_MAH_CM2))  # li-cu-nucleation: 2 h at 0.5 mA/cm²
    t, V = points["t"], points["V"]
    duration = t[-1]
    dip = V[t <= 0.2 * duration].min()
    plateau = float(np.median(V[(t >= 0.2 * duration) & (t <= 0.6 * duration)]))
    assert plateau - dip == pytest.approx(0.050, rel=0.02)
    assert plateau == pytest.approx(-current_at(0.5) * (R_B + R_CT), rel=1e-9)
    assert abs(V[t == 61.0][0] - plateau) < 0.01 * 0.050  # recovered over nucleation_time
    # on Li already there, no dip; on bare Cu again (after a full strip), the dip returns
    run(ch, step("cc", current_A=current_at(0.5), ends=until(time=600.0)))
    again, _ = run(ch, plate(0.1 * C_PER_MAH_CM2))
    assert again["V"][1:].min() == pytest.approx(plateau, rel=1e-9)
    run(ch, strip_to_cutoff())
    fresh, _ = run(ch, plate(0.1 * C_PER_MAH_CM2))
    assert plateau - fresh["V"].min() == pytest.approx(0.050, rel=0.02)


def test_the_plating_overpotential_grows_linearly_with_current_density() -> None:
    for j in (0.25, 0.5, 1.0):
        cell = model()
        held = cell.hold_current(-current_at(j), np.array([3600.0]))
        interfacial = -float(held.voltage_V[0]) - current_at(j) * R_B
        assert interfacial == pytest.approx(0.030 * j / 0.5, rel=1e-9)


def test_interface_resistance_may_stand_for_the_plating_overpotential() -> None:
    sim = dict(li_cu_cell().sim)
    del sim["plating_overpotential"]
    cell = build_cell_model(
        CellSummary("x", "Li|QSE|Cu", DISK_M2, None, thickness_m=MEMBRANE_M,
                    sim={**sim, "interface_resistance": "60 ohm cm^2"})
    )
    assert isinstance(cell, LiCuCell)
    assert cell.interface_resistance_ohm == pytest.approx(R_CT)
    with pytest.raises(ValueError, match="not both"):
        build_cell_model(li_cu_cell(interface_resistance="60 ohm cm^2"))


@pytest.mark.parametrize(
    ("sim", "message"),
    [
        ({"coulombic_effiency": 0.98}, "unknown \\[sim\\] key.*this model reads.*nucleation_time"),
        ({"coulombic_efficiency": 1.02}, "coulombic_efficiency must be in \\(0, 1\\]"),
        ({"nucleation_time": "0 s"}, "nucleation_time must be > 0"),
        ({"nucleation_overpotential": "50 ohm"}, "not a unit of voltage"),
    ],
)
def test_bad_sim_tables_are_refused(sim: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_cell_model(li_cu_cell(**sim))


# -- voltage holds ----------------------------------------------------------------------------


def test_a_voltage_hold_strips_the_li_then_charges_the_bare_cu() -> None:
    cell = model()
    cell.commit(cell.hold_current(-current_at(0.5), np.array([3600.0])), 0)
    inventory = cell.lithium_on_cu_C
    r = R_B + R_CT
    held = cell.hold_voltage(0.5, np.array([0.0, 10.0, 3600.0, 36000.0]))
    assert held.current_A[:2] == pytest.approx(0.5 / r)
    # all the Li, then the bare Cu's charge at 0.5 V (0.5/1.2 of 0.2 mC/cm²)
    bare_C = 0.5 / 1.2 * 2.0 * DISK_M2
    assert held.charge_C[-1] == pytest.approx(inventory + bare_C, rel=1e-9)
    assert held.current_A[-1] == pytest.approx(0.0, abs=1e-15)
    cell.commit(held, 3)
    assert cell.open_circuit_voltage_V == pytest.approx(0.5)


def test_plating_under_a_held_voltage_needs_more_than_the_nucleation_barrier() -> None:
    cell = model(open_circuit_voltage="0 V", sei_charge="0 mAh/cm^2")
    assert cell.hold_voltage(-0.03, np.array([0.0, 3600.0])).current_A.tolist() == [0.0, 0.0]
    held = cell.hold_voltage(-0.2, np.array([0.0, 3600.0]))
    r = R_B + R_CT
    assert held.current_A[0] == pytest.approx((-0.2 + 0.05) / r)
    assert held.current_A[1] == pytest.approx(-0.2 / r, rel=1e-9)
    cell.commit(held, 1)
    assert cell.lithium_on_cu_C == pytest.approx(-0.98 * float(held.charge_C[1]))


# -- the short, impedance, temperature --------------------------------------------------------


def test_above_the_ccd_the_cell_shorts_and_its_li_stays_put() -> None:
    ch = channel(li_cu_cell(ccd="0.3 mA/cm^2", **QUIET))
    # no dendrite grows while the fresh Cu is only discharged and takes its SEI
    _, status = run(ch, to_zero_volts())
    assert status.end_reason == "limit:voltage"
    points, status = run(
        ch, step("cc", current_A=-current_at(0.5), ends=until(short=0.2, time=3600.0))
    )
    assert status.end_reason == "short"
    # 60 s of plating (after the few ms the last of the Cu's charge takes): the next sample
    assert points["t"][-1] == pytest.approx(61.0)
    assert points["V"][-1] == pytest.approx(-current_at(0.5) * 0.5)
    built = model(ccd="0.3 mA/cm^2")
    t_short = FRESH_CU_C / current_at(0.5) + 60.0  # the clock stands still until Li plates
    held = built.hold_current(-current_at(0.5), np.array([t_short - 1.0, t_short, 3600.0]))
    assert held.state[0, -1] == 0.0 and held.state[1, -1] == 1.0
    assert held.state[1, 0] == held.state[2, 0]  # no more plating through a short
    assert not model().hold_current(-current_at(9.9), np.array([3600.0])).state[0, -1]


def test_impedance_and_temperature() -> None:
    cell = model()
    z = cell.impedance(np.array([1e10, 1e-4]))
    assert z.real[0] == pytest.approx(R_B, rel=2e-3)
    assert z.real[1] == pytest.approx(R_B + R_CT, rel=1e-5)
    cell.set_temperature(333.15)
    factor = math.exp(0.30 / K_B_EV * (1 / 333.15 - 1 / 298.15))
    assert cell.bulk_resistance_ohm == pytest.approx(R_B * factor, rel=1e-9)
    assert cell.impedance(np.array([1e10]))[0].real == pytest.approx(R_B * factor, rel=2e-3)


def test_a_voltage_hold_on_fresh_cu_forms_the_sei_before_any_li() -> None:
    cell = model()
    r = R_B + R_CT
    t = np.array([0.0, 1.0, 10.0, 3600.0])
    held = cell.hold_voltage(-0.2, t)
    # past the Cu's charge, the SEI takes a constant (0.2 + 0.8)/R until it is formed
    assert held.current_A[1:3] == pytest.approx(-(0.2 + 0.8) / r, rel=1e-9)
    sei_formed = held.state[1, 4] - held.state[2, 4]  # the SEI still to form, column 4
    assert sei_formed == pytest.approx(9.0 * (0.2 + 0.8) / r, rel=1e-9)
    cell.commit(held, 3)
    assert cell.sei_to_form_C == 0.0
    assert cell.lithium_on_cu_C == pytest.approx(
        0.98 * (-float(held.charge_C[3]) - FRESH_CU_C), rel=1e-9
    )
