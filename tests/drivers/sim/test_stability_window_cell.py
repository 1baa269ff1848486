"""The Li‖electrolyte‖SS cell: oxidation onset, ohmic drop, rest, impedance, temperature."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.li_ss import LiSsCell
from cyclerctl.drivers.sim.model import SupportsImpedance, SupportsSweep, SupportsTemperature

from .helpers import LI_SS_AREA_M2, MEMBRANE_M, li_ss_cell

THRESHOLD_A_M2 = 0.1  # 10 µA/cm²


def model(**sim: object) -> LiSsCell:
    built = build_cell_model(li_ss_cell(**sim))
    assert isinstance(built, LiSsCell)
    return built


def test_it_has_the_capabilities_the_channel_asks_for() -> None:
    cell = model()
    assert isinstance(cell, SupportsImpedance)
    assert isinstance(cell, SupportsSweep)
    assert isinstance(cell, SupportsTemperature)


def test_series_resistance_comes_from_resistance_or_the_membrane_or_the_default() -> None:
    from_membrane = model().resistance_ohm
    assert from_membrane == pytest.approx(MEMBRANE_M / (0.03 * LI_SS_AREA_M2))
    assert model(resistance="80 ohm").resistance_ohm == pytest.approx(80.0)
    thin_air = build_cell_model(dataclasses.replace(li_ss_cell(), thickness_m=None))
    assert isinstance(thin_air, LiSsCell)
    assert thin_air.resistance_ohm == pytest.approx(50.0)


def test_it_rests_at_its_ocv() -> None:
    cell = model(ocv="3.1 V")
    tr = cell.hold_current(0.0, np.array([0.0, 3600.0]))
    assert np.all(tr.voltage_V == 3.1)
    assert cell.hold_voltage(3.1, np.array([0.0])).current_A[0] == 0.0


def test_oxidation_reaches_the_onset_current_at_the_onset_and_rises_a_tafel_slope_per_e() -> None:
    cell = model(oxidation_onset="4.4 V", tafel_slope="50 mV")
    x = np.array([4.4, 4.45, 3.5])
    current = cell.faradaic_current_A(x) / LI_SS_AREA_M2
    assert current[0] == pytest.approx(THRESHOLD_A_M2, rel=1e-9)
    assert current[1] / current[0] == pytest.approx(math.e, rel=1e-9)
    assert current[2] < 1e-7 * THRESHOLD_A_M2  # negligible far below


def test_lsv_crosses_the_threshold_within_20_mV_of_the_onset_and_charge_is_exact() -> None:
    cell = model()
    rate = 1e-3
    t = np.arange(0.0, 2101.0)
    tr = cell.sweep(2.9, rate, t)
    density = tr.current_A / LI_SS_AREA_M2
    first = int(np.argmax(density >= THRESHOLD_A_M2))
    assert density[first - 1] < THRESHOLD_A_M2
    assert tr.voltage_V[first] == pytest.approx(4.5, abs=0.02)
    # the capacitive current at 1 mV/s is far below the threshold
    assert density[0] == pytest.approx(20e-6 / 1e-4 * rate, rel=1e-6)
    assert density[0] < THRESHOLD_A_M2 / 100
    # the ohmic drop: the interface lags the terminals by I·R
    x = tr.state[:, 0]
    assert tr.voltage_V - x == pytest.approx(tr.current_A * cell.resistance_ohm, abs=1e-9)
    assert tr.current_A[-1] < (5.0 - 4.5) / cell.resistance_ohm  # IR-limited at 5 V
    steps = np.diff(t) * (tr.current_A[1:] + tr.current_A[:-1]) / 2
    assert tr.charge_C[-1] == pytest.approx(steps.sum(), rel=1e-4)


def test_a_cathodic_current_plates_lithium_below_the_reduction_onset() -> None:
    cell = model()
    tr = cell.hold_current(-1e-4, np.array([0.0, 10.0]))
    assert -0.5 < tr.voltage_V[0] < 0.0
    assert np.all(np.isfinite(tr.voltage_V))


def test_impedance_is_series_resistance_and_the_interface_at_its_bias() -> None:
    cell = model()
    f = np.array([1e5, 1.0, 0.01])
    at_rest = cell.impedance(f)
    assert at_rest[0].real == pytest.approx(cell.resistance_ohm, rel=0.01)
    assert np.all(at_rest.imag < 0)
    # at a bias past the onset the charge-transfer resistance closes the low-f arc
    tr = cell.hold_voltage(4.6, np.array([0.0]))
    cell.commit(tr, 0)
    biased = cell.impedance(f)
    r_ct = 1 / (cell.faradaic_current_A(np.array([tr.state[0, 0]]))[0] / 0.06)
    assert biased[-1].real == pytest.approx(cell.resistance_ohm + r_ct, rel=0.05)
    assert abs(biased[-1]) < abs(at_rest[-1])


def test_set_temperature_moves_the_series_resistance_by_arrhenius() -> None:
    cell = model()
    r_ref = cell.resistance_ohm
    cell.set_temperature(333.15)
    factor = math.exp(-0.30 * 1.602176634e-19 / 1.380649e-23 * (1 / 333.15 - 1 / 303.15))
    assert cell.resistance_ohm == pytest.approx(r_ref / factor)
    assert cell.temperature_K == 333.15


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="reduction_onset < ocv < oxidation_onset"):
        build_cell_model(li_ss_cell(ocv="4.7 V"))
    with pytest.raises(ValueError, match=r"unknown \[sim\] key.*onset"):
        build_cell_model(li_ss_cell(onset="4.5 V"))
    with pytest.raises(ValueError, match=r"\[sim\] onset_current"):
        build_cell_model(li_ss_cell(onset_current="10 uF/cm^2"))
