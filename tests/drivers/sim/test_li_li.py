"""The li-li cell: overpotential, concentration polarisation, Bruce–Vincent, the short at
the critical current density, impedance and temperature."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.li_li import LiLiCell
from cyclerctl.drivers.sim.li_metal import CCD_TOLERANCE
from cyclerctl.drivers.sim.units import to_si
from cyclerctl.plan import CellSummary

from .helpers import channel, rest, run, step, until

DISK_M2 = math.pi * 0.006**2  # 12 mm Li disks
MEMBRANE_M = 100e-6
K_B_EV = 8.617333262e-5
T_25C, T_30C = 298.15, 303.15
SIGMA_REF_S_M = 3e-4 * 100  # 3e-4 S/cm at 30 °C
A_M2_PER_MA_CM2 = 10.0
QUIET = {"noise": 0, "current_noise": 0}


def li_li_cell(**sim: Any) -> CellSummary:
    """The lab's Li|QSE|Li coin cell (protocols/cells/li-qse-li.toml)."""
    return CellSummary(
        name="Li|QSE|Li 12 mm, 100 um membrane",
        chemistry="Li|QSE|Li",
        area_m2=DISK_M2,
        nominal_capacity_Ah=None,
        thickness_m=MEMBRANE_M,
        sim={
            "model": "li-li", "conductivity": "3e-4 S/cm", "reference_temperature": "30 degC",
            "activation_energy": "0.30 eV", "interface_resistance": "50 ohm cm^2",
            "ccd": "1.0 mA/cm^2", "transference_number": 0.4, "temperature": "25 degC",
            "seed": 401, **sim,
        },
    )


def model(**sim: Any) -> LiLiCell:
    built = build_cell_model(li_li_cell(**QUIET, **sim))
    assert isinstance(built, LiLiCell)
    return built


def arrhenius(T: float, T_ref: float = T_30C, Ea_eV: float = 0.30) -> float:
    """σ(T)/σ(T_ref)."""
    return math.exp(-Ea_eV / K_B_EV * (1 / T - 1 / T_ref))


def current_at(j_mA_cm2: float) -> float:
    return j_mA_cm2 * A_M2_PER_MA_CM2 * DISK_M2


R_B = MEMBRANE_M / (SIGMA_REF_S_M * arrhenius(T_25C) * DISK_M2)  # ≈ 35.7 Ω at 25 °C
R_I = 2 * 50e-4 / DISK_M2  # two 50 Ω·cm² interfaces ≈ 88.4 Ω
TAU_S = 20 * 60.0


# -- parameters -------------------------------------------------------------------------------


def test_the_lab_cell_has_the_membrane_and_interface_resistances() -> None:
    cell = model()
    assert cell.bulk_resistance_ohm == pytest.approx(R_B, rel=1e-9)
    assert cell.interface_resistance_ohm == pytest.approx(R_I, rel=1e-12)
    assert cell.concentration_resistance_ohm == pytest.approx(R_B * (1 / 0.4 - 1))
    assert cell.temperature_K == pytest.approx(T_25C)
    p = cell.params
    # the diffusion tail is on by default, as in a real Li‖Li spectrum
    assert (p.transference_number, p.concentration_time_s, p.warburg) == (0.4, TAU_S, True)
    assert p.common.ccd_A_m2 == pytest.approx(10.0)
    assert (p.common.short_delay_s, p.common.short_resistance_ohm) == (60.0, 0.5)
    assert (p.common.cpe_q, p.common.cpe_n) == (1e-5, 0.85)


def test_without_a_thickness_the_resistance_key_sets_r_b_at_the_reference_temperature() -> None:
    no_thickness = dataclasses.replace(li_li_cell(**QUIET), thickness_m=None)
    built = build_cell_model(no_thickness)
    assert isinstance(built, LiLiCell)
    assert built.bulk_resistance_ohm == pytest.approx(20.0 / arrhenius(T_25C))  # default 20 Ω
    given = model(resistance="50 ohm", temperature="30 degC")  # wins over the thickness
    assert given.bulk_resistance_ohm == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("sim", "message"),
    [
        ({"interface_resistence": "50 ohm cm^2"}, "unknown \\[sim\\] key.*this model reads.*ccd"),
        ({"interface_resistance": "50 V"}, "area-specific resistance"),
        ({"transference_number": 0}, "transference_number must be in \\(0, 1\\]"),
        ({"ccd": "-1 mA/cm^2"}, "ccd must be > 0"),
        ({"warburg": "yes"}, "warburg"),
    ],
)
def test_bad_sim_tables_are_refused(sim: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_cell_model(li_li_cell(**sim))


def test_areal_resistance_spellings() -> None:
    for spelling in ("50 ohm cm^2", "50 Ω·cm²", "50 ohm*cm^2", "0.005 ohm m^2", 0.005):
        assert model(interface_resistance=spelling).interface_resistance_ohm == pytest.approx(R_I)


# -- galvanostatic ----------------------------------------------------------------------------


def test_galvanostatic_overpotential_starts_ohmic_and_settles_with_the_salt_gradient() -> None:
    current = current_at(0.5)
    points, status = run(
        channel(li_li_cell(**QUIET)), step("cc", current_A=current, ends=until(time=6 * 3600.0))
    )
    assert status.end_reason == "time"
    assert points["V"][0] == pytest.approx(current * (R_B + R_I), rel=1e-9)
    settled = current * (R_I + R_B / 0.4)
    expected = settled + (current * (R_B + R_I) - settled) * np.exp(-points["t"] / TAU_S)
    assert points["V"] == pytest.approx(expected, rel=1e-9)
    assert points["V"][-1] == pytest.approx(settled, rel=1e-6)
    # plating is the mirror image
    plate, _ = run(
        channel(li_li_cell(**QUIET)), step("cc", current_A=-current, ends=until(time=600.0))
    )
    assert plate["V"] == pytest.approx(-expected[: len(plate)], rel=1e-9)


def test_rest_relaxes_the_concentration_polarisation() -> None:
    ch = channel(li_li_cell(**QUIET))
    points, _ = run(ch, step("cc", current_A=current_at(0.5), ends=until(time=3600.0)))
    polarisation = points["V"][-1] - current_at(0.5) * (R_B + R_I)
    relaxed, _ = run(ch, rest(3600.0))
    assert relaxed["V"] == pytest.approx(polarisation * np.exp(-relaxed["t"] / TAU_S), rel=1e-9)
    assert np.all(relaxed["I"] == 0.0)


def test_current_and_voltage_holds_share_one_state() -> None:
    cell = model()
    current = current_at(0.3)
    cc = cell.hold_current(current, np.array([0.0, 1800.0]))
    cell.commit(cc, 1)
    cv = cell.hold_voltage(float(cc.voltage_V[1]), np.array([0.0]))
    assert float(cv.current_A[0]) == pytest.approx(current, rel=1e-12)
    assert cv.state[0, 0] == cc.state[1, 0]


def test_queries_do_not_change_the_cell() -> None:
    cell = model()
    t = np.linspace(0, 3600, 7)
    first = cell.hold_current(current_at(2.0), t)  # would short at 60 s
    assert not cell.shorted and cell.time_at_ccd_s == 0.0
    again = cell.hold_current(current_at(2.0), t)
    assert np.array_equal(first.voltage_V, again.voltage_V)
    # and one long query agrees with the same time in pieces
    cell.commit(cell.hold_current(current_at(2.0), np.array([0.0, 30.0])), 1)
    rest_of_it = cell.hold_current(current_at(2.0), t[1:] - 30.0)
    assert rest_of_it.voltage_V == pytest.approx(first.voltage_V[1:], rel=1e-12)


# -- Bruce–Vincent ----------------------------------------------------------------------------


def bruce_vincent(delta_V: float, I0: float, Is: float, R0: float, Rs: float) -> float:
    return Is * (delta_V - I0 * R0) / (I0 * (delta_V - Is * Rs))


def test_a_potentiostatic_hold_decays_as_bruce_vincent_and_gives_t_plus_back() -> None:
    delta_V = 0.010
    cell = model()
    r_i = cell.interface_resistance_ohm
    points, _ = run(
        channel(li_li_cell(**QUIET)), step("cv", voltage_V=delta_V, ends=until(time=8 * 3600.0))
    )
    i_0, i_s = float(points["I"][0]), float(points["I"][-1])
    assert i_0 == pytest.approx(delta_V / (R_B + R_I), rel=1e-12)
    assert i_s == pytest.approx(0.4 * delta_V / (R_B + 0.4 * R_I), rel=1e-9)
    assert bruce_vincent(delta_V, i_0, i_s, r_i, r_i) == pytest.approx(0.4, rel=1e-8)
    # one exponential, with τ' = τ·R_0/(R_0 + R_c)
    r0, rc = R_B + R_I, cell.concentration_resistance_ohm
    tau_v = TAU_S * r0 / (r0 + rc)
    expected = i_s + (i_0 - i_s) * np.exp(-points["t"] / tau_v)
    assert points["I"] == pytest.approx(expected, rel=1e-9)
    # the interface the spectra see before and after is R_i, unchanged (read without the
    # diffusion tail, which at 1e-4 Hz adds most of R_c)
    z = model(warburg=False).impedance(np.array([1e9, 1e-4]))
    assert z.real[1] - z.real[0] == pytest.approx(r_i, rel=1e-3)


def test_the_library_protocols_one_hour_hold_is_close_to_steady() -> None:
    # transference-bruce-vincent holds 10 mV for 1 h: τ' ≈ 14 min leaves I ~0.6 % above I_s
    points, _ = run(
        channel(li_li_cell(**QUIET)), step("cv", voltage_V=0.010, ends=until(time=3600.0))
    )
    t_plus = bruce_vincent(0.010, float(points["I"][0]), float(points["I"][-1]), R_I, R_I)
    assert t_plus == pytest.approx(0.4, abs=0.01)


# -- the short --------------------------------------------------------------------------------


def test_at_the_ccd_the_cell_shorts_after_the_delay_and_stays_shorted() -> None:
    j = to_si("0.1 mA/cm^2", "A/m^2")
    current = (j + 9 * j) * DISK_M2  # the ramp's 10th value, 1.0 mA/cm², as a loop binds it
    cell = model()
    t = np.array([0.0, 30.0, 59.999, 60.0, 61.0, 120.0])
    held = cell.hold_current(current, t)
    assert np.all(held.voltage_V[:3] > 0.1)
    assert held.voltage_V[3:] == pytest.approx(current * 0.5)  # V = I·R_short, ~0.6 mV
    assert held.state[:, -1].tolist() == [0, 0, 0, 1, 1, 1]
    cell.commit(held, 5)
    assert cell.shorted
    # for good: at rest, and at a current far below the CCD
    assert cell.hold_current(0.0, np.array([10.0])).voltage_V[0] == 0.0
    low = cell.hold_current(current_at(0.1), np.array([0.0, 3600.0]))
    assert low.voltage_V == pytest.approx(current_at(0.1) * 0.5)
    assert cell.hold_voltage(0.01, np.array([0.0])).current_A[0] == pytest.approx(0.01 / 0.5)
    assert abs(cell.impedance(np.array([1.0]))[0]) < 0.5


def test_below_the_ccd_the_cell_never_shorts() -> None:
    cell = model()
    held = cell.hold_current(current_at(0.99), np.array([0.0, 100 * 3600.0]))
    assert held.state[-1, -1] == 0.0 and held.state[-1, -2] == 0.0
    assert held.voltage_V[-1] > 0.1


def test_the_time_at_the_ccd_adds_up_across_steps() -> None:
    cell = model(short_delay="90 s")
    current = current_at(1.2)
    for _ in range(2):  # 2 × 40 s: not yet
        cell.commit(cell.hold_current(current, np.array([40.0])), 0)
        cell.commit(cell.hold_current(0.0, np.array([600.0])), 0)
    assert cell.time_at_ccd_s == pytest.approx(80.0) and not cell.shorted
    held = cell.hold_current(-current, np.array([9.99, 10.0]))  # plating counts as well
    assert held.state[:, -1].tolist() == [0.0, 1.0]


def test_a_voltage_hold_shorts_only_while_its_current_is_at_the_ccd() -> None:
    cell = model()
    ccd_A = current_at(1.0) * (1 - CCD_TOLERANCE)  # the threshold the model applies
    r0, rc = R_B + R_I, cell.concentration_resistance_ohm
    tau_v = TAU_S * r0 / (r0 + rc)
    # I_0 above the CCD, I_s below; it crosses the CCD after 30 s, so the clock stops there
    Is_per_V, I0_per_V = 1 / (r0 + rc), 1 / r0
    decay = math.exp(-30.0 / tau_v)
    volts = ccd_A / (Is_per_V + (I0_per_V - Is_per_V) * decay)
    held = cell.hold_voltage(volts, np.array([0.0, 29.0, 31.0, 3600.0]))
    assert held.current_A[0] > ccd_A > held.current_A[2]
    assert held.state[:, -2] == pytest.approx([0.0, 29.0, 30.0, 30.0], abs=1e-5)
    assert not held.state[:, -1].any()
    # a larger voltage keeps the current above it: shorted at 60 s, I = V/R_short after
    held = cell.hold_voltage(0.3, np.array([59.0, 60.0]))
    assert held.current_A[0] < 0.01 and held.current_A[1] == pytest.approx(0.3 / 0.5)


@pytest.mark.parametrize(("ccd", "found"), [("1.0 mA/cm^2", 1.0), ("0.75 mA/cm^2", 0.8)])
def test_a_ccd_ramp_shorts_at_the_first_ramp_value_at_or_above_the_ccd(
    ccd: str, found: float
) -> None:
    ch = channel(li_li_cell(ccd=ccd))
    first = to_si("0.1 mA/cm^2", "A/m^2")
    half_cycle_C = 0.1e-3 * 3600 * 1e4 * DISK_M2  # 0.1 mAh/cm²
    for k in range(50):
        j = first + k * first
        for sign in (1, -1):  # strip, then plate
            s = step(
                "cc",
                current_A=sign * j * DISK_M2,
                ends=until(charge=half_cycle_C, short=0.2, time=20 * 3600.0),
            )
            points, status = run(ch, s)
            if status.end_reason == "short":
                assert j / A_M2_PER_MA_CM2 == pytest.approx(found)
                assert sign == 1  # in the strip, the first half-cycle at that density
                assert points["t"][-1] == pytest.approx(60.0)
                assert abs(points["V"][-1]) < 2e-3
                return
            assert status.end_reason == "limit:charge"
    raise AssertionError("the ramp never shorted")


# -- impedance and temperature ----------------------------------------------------------------


def test_impedance_runs_from_r_b_to_r_b_plus_r_i() -> None:
    cell = model(warburg=False)  # the arc alone; the diffusion tail has its own test
    f = np.logspace(9, -4, 131)
    z = cell.impedance(f)
    assert z.dtype == np.complex128
    assert z.real[0] == pytest.approx(R_B, rel=2e-3)
    assert z.real[-1] == pytest.approx(R_B + R_I, rel=1e-5)
    assert np.all(z.imag <= 0)  # capacitive
    # the arc's top is at ω = (R_i·Q)^(−1/n), where −Z'' = R_i·cos(nπ/4)/(2 + 2 sin(nπ/4))…
    apex = int(np.argmax(-z.imag))
    f_apex = (R_I * 1e-5) ** (-1 / 0.85) / (2 * math.pi)
    assert f[apex] == pytest.approx(f_apex, rel=0.15)
    assert -z.imag[apex] < R_I / 2  # …a depressed semicircle (n < 1)


def test_the_warburg_tail_ends_at_the_settled_dc_overpotential() -> None:
    cell = model(warburg=True)
    z = cell.impedance(np.array([1e9, 1e-9]))
    assert z.real[0] == pytest.approx(R_B, rel=2e-3)
    assert z.real[1] == pytest.approx(R_I + R_B / 0.4, rel=1e-5)  # = V_settled / I
    bare = model(warburg=False).impedance(np.array([1e-9]))[0].real
    assert bare == pytest.approx(R_B + R_I, rel=1e-6)


def test_set_temperature_moves_r_b_by_arrhenius_and_leaves_r_i() -> None:
    cell = model()
    for T in (T_30C, 333.15, 263.15):
        cell.set_temperature(T)
        assert cell.temperature_K == T
        expected = MEMBRANE_M / (SIGMA_REF_S_M * arrhenius(T) * DISK_M2)
        assert cell.bulk_resistance_ohm == pytest.approx(expected, rel=1e-9)
        assert cell.impedance(np.array([1e10]))[0].real == pytest.approx(expected, rel=1e-3)
        assert cell.interface_resistance_ohm == pytest.approx(R_I)
    cell.set_temperature(333.15)
    held = cell.hold_current(current_at(0.5), np.array([0.0]))
    assert held.voltage_V[0] == pytest.approx(current_at(0.5) * (cell.bulk_resistance_ohm + R_I))
    with pytest.raises(ValueError, match="above 0 K"):
        cell.set_temperature(0.0)


def test_noise_is_seeded() -> None:
    s = step("cc", current_A=current_at(0.5), ends=until(time=60.0))
    a, _ = run(channel(li_li_cell()), s)
    b, _ = run(channel(li_li_cell()), s)
    c, _ = run(channel(li_li_cell(seed=402)), s)
    assert np.array_equal(a["V"], b["V"]) and not np.array_equal(a["V"], c["V"])
    assert np.std(a["V"] - a["V"].mean()) < 1e-3  # 50 µV of noise on a slow rise
