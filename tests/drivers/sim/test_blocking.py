"""The blocking (SS‖electrolyte‖SS) cell: its spectrum, Arrhenius transport and DC response."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.blocking import BlockingCell
from cyclerctl.drivers.sim.electrolyte import BOLTZMANN_J_K
from cyclerctl.drivers.sim.model import SupportsImpedance, SupportsSweep, SupportsTemperature

from .helpers import MEMBRANE_M, SS_AREA_M2, blocking_cell

SIGMA_REF = 3e-4 * 100  # 3e-4 S/cm in S/m
T_REF = 303.15
EA_J = 0.30 * 1.602176634e-19


def model(**sim: object) -> BlockingCell:
    built = build_cell_model(blocking_cell(**sim))
    assert isinstance(built, BlockingCell)
    return built


def test_it_has_the_capabilities_the_channel_asks_for() -> None:
    cell = model()
    assert isinstance(cell, SupportsImpedance)
    assert isinstance(cell, SupportsSweep)
    assert isinstance(cell, SupportsTemperature)


def test_defaults_give_the_cell_files_conductivity_at_the_reference_temperature() -> None:
    cell = model()
    assert cell.temperature_K == pytest.approx(T_REF)
    assert cell.conductivity_S_m == pytest.approx(SIGMA_REF)
    assert cell.bulk_resistance_ohm == pytest.approx(MEMBRANE_M / (SIGMA_REF * SS_AREA_M2))


def test_parameters_are_read_with_units() -> None:
    p = model(
        conductivity="1 mS/cm",
        reference_temperature="25 degC",
        activation_energy="29 kJ/mol",
        cpe_q="2e-5 F s^(n-1)",
        cpe_n=0.85,
        permittivity=10,
        temperature="60 degC",
    ).params
    assert p.electrolyte.conductivity_S_m == pytest.approx(0.1)
    assert p.electrolyte.reference_temperature_K == pytest.approx(298.15)
    assert p.electrolyte.activation_energy_J == pytest.approx(29e3 / 6.02214076e23)
    assert (p.cpe_q, p.cpe_n, p.permittivity) == (2e-5, 0.85, 10.0)
    assert p.temperature_K == pytest.approx(333.15)


def test_a_cell_without_thickness_or_with_a_typo_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the cell's thickness"):
        build_cell_model(dataclasses.replace(blocking_cell(), thickness_m=None))
    with pytest.raises(ValueError, match=r"unknown \[sim\] key.*conductivty"):
        build_cell_model(blocking_cell(conductivty="1 mS/cm"))
    with pytest.raises(ValueError, match="cpe_n must be in"):
        build_cell_model(blocking_cell(cpe_n=1.5))


def test_the_instruments_keys_are_accepted() -> None:
    assert model(eis_noise=0.01, chamber={"time_constant": "5 min"}).bulk_resistance_ohm > 0


def test_set_temperature_changes_the_bulk_resistance_as_arrhenius_says() -> None:
    cell = model()
    r_ref = cell.bulk_resistance_ohm
    for temperature in (273.15, 303.15, 333.15, 363.15):
        cell.set_temperature(temperature)
        expected = SIGMA_REF * math.exp(-EA_J / BOLTZMANN_J_K * (1 / temperature - 1 / T_REF))
        assert cell.conductivity_S_m == pytest.approx(expected, rel=1e-12)
        assert cell.bulk_resistance_ohm == pytest.approx(r_ref * SIGMA_REF / expected)
        assert cell.temperature_K == temperature
        z = cell.impedance(np.array([1e5]))[0]  # + the CPE's 0.1 Ω in phase at 100 kHz
        assert z.real == pytest.approx(cell.bulk_resistance_ohm, abs=0.12)
    # ln σ against 1/T is a straight line of slope −Ea/k_B
    inverse = np.array([1 / 300.0, 1 / 330.0, 1 / 360.0])
    log_sigma = []
    for temperature in 1 / inverse:
        cell.set_temperature(float(temperature))
        log_sigma.append(math.log(cell.conductivity_S_m))
    slope = np.polyfit(inverse, log_sigma, 1)[0]
    assert -slope * BOLTZMANN_J_K / 1.602176634e-19 == pytest.approx(0.30, rel=1e-9)


def test_spectrum_is_bulk_resistance_plus_a_constant_phase_element() -> None:
    cell = model()
    f = np.geomspace(1e5, 0.1, 61)
    z = cell.impedance(f)
    assert np.all(z.imag < 0)  # capacitive everywhere
    assert z[0].real == pytest.approx(cell.bulk_resistance_ohm, rel=0.01)
    # low frequency: the CPE line, phase −n·90°, |Z| ∝ f^−n
    assert np.angle(z[-1], deg=True) == pytest.approx(-0.9 * 90, abs=1.0)
    slope = np.polyfit(np.log(f[-20:]), np.log(np.abs(z[-20:])), 1)[0]
    assert slope == pytest.approx(-0.9, abs=0.01)
    # the interface part is 1/(Q(jω)^n) (the 1 GΩ leak shifts it by < 0.1 % here)
    interface = z - cell.bulk_resistance_ohm / (
        1 + 2j * np.pi * f * cell.bulk_resistance_ohm * cell.geometric_capacitance_F
    )
    assert interface == pytest.approx(1 / (1e-5 * (2j * np.pi * f) ** 0.9), rel=1e-3)


def test_geometric_capacitance_is_eps0_epsr_s_over_l() -> None:
    cell = model(permittivity=30)
    assert cell.geometric_capacitance_F == pytest.approx(
        8.8541878128e-12 * 30 * SS_AREA_M2 / MEMBRANE_M
    )


def test_held_voltage_charges_the_double_layer_and_the_current_decays() -> None:
    cell = model()
    t = np.array([0.0, 1e-4, 1e-3, 1e-2, 1.0, 100.0])
    tr = cell.hold_voltage(0.1, t)
    assert tr.current_A[0] == pytest.approx(0.1 / cell.bulk_resistance_ohm)
    assert np.all(np.diff(tr.current_A) <= 0)
    assert tr.current_A[-1] == pytest.approx(0.1 / 1e9, rel=1e-6)  # only the leak is left
    leaked = 0.1 / 1e9 * 100.0
    assert tr.charge_C[-1] == pytest.approx(cell.capacitance_F * 0.1 + leaked, rel=1e-3)
    assert np.all(tr.voltage_V == 0.1)


def test_held_current_charges_the_cell_like_a_capacitor_and_stays_bounded() -> None:
    cell = model()
    current = 1e-7
    t = np.array([0.0, 1.0, 10.0, 1e6])
    tr = cell.hold_current(current, t)
    ramp = current / cell.capacitance_F  # V/s at first
    assert tr.voltage_V[2] - tr.voltage_V[1] == pytest.approx(9 * ramp, rel=0.01)
    assert tr.voltage_V[-1] == pytest.approx(current * (1e9 + cell.bulk_resistance_ohm))
    assert np.all(np.isfinite(tr.voltage_V))
    # rest after it: the charge stays (V_c is the state), then leaks away slowly
    cell.commit(tr, 2)
    rest = cell.hold_current(0.0, np.array([0.0, 10.0]))
    assert rest.voltage_V[0] == pytest.approx(10 * ramp, rel=0.01)
    assert rest.voltage_V[1] < rest.voltage_V[0]


def test_sweep_current_is_the_capacitive_current_and_the_charge_its_integral() -> None:
    cell = model()
    rate = 0.01
    t = np.linspace(0.0, 50.0, 5001)
    tr = cell.sweep(0.0, rate, t)
    assert tr.voltage_V == pytest.approx(rate * t)
    leak = tr.voltage_V[-1] / 1e9
    assert tr.current_A[-1] == pytest.approx(cell.capacitance_F * rate + leak, rel=1e-4)
    steps = np.diff(t) * (tr.current_A[1:] + tr.current_A[:-1]) / 2
    trapezoid = np.concatenate(([0.0], np.cumsum(steps)))
    # (the first interval misses the 0.2 ms charging transient: ~5e-10 C)
    assert tr.charge_C == pytest.approx(trapezoid, rel=1e-4, abs=1e-9)
    # pure: asking twice gives the same answer, the state moves only on commit
    assert np.array_equal(cell.sweep(0.0, rate, t).current_A, tr.current_A)


def test_a_cell_assembled_at_a_voltage_rests_there_and_leaks_it_away() -> None:
    assert model().open_circuit_voltage_V == 0.0  # a symmetric steel cell: 0 V
    cell = model(open_circuit_voltage="0.6 V", noise=0)
    assert cell.open_circuit_voltage_V == pytest.approx(0.6)
    tau = cell.params.leakage_ohm * cell.capacitance_F  # hours: 1 GΩ × 10 µF
    rested = cell.hold_current(0.0, np.array([0.0, 600.0, tau]))
    assert rested.voltage_V == pytest.approx(0.6 * np.exp(-np.array([0.0, 600.0, tau]) / tau))
