"""The simulator's dummy load (R_s + R‖C): what every emulator runs commissioning on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.drivers.sim.dummy import dummy, dummy_cell
from cyclerctl.drivers.sim.models import build_cell_model


def _cumulative_trapezoid(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(np.diff(t) * 0.5 * (y[1:] + y[:-1]))))


@pytest.mark.parametrize(
    ("series", "capacitance"), [(100.0, 1e-3), (0.0, 1e-3), (100.0, 0.0), (0.0, 0.0)]
)
def test_a_sweep_s_charge_is_the_integral_of_its_current(series: float, capacitance: float) -> None:
    load = dummy(dummy_cell(1000.0, series_ohm=series, capacitance_F=capacitance))
    t = np.linspace(0.0, 2.0, 20_001)
    trajectory = load.sweep(0.2, 0.3, t)
    # with no series resistor, the discharged capacitor takes C·0.2 V at the instant itself
    instant = capacitance * 0.2 if series == 0 else 0.0
    assert trajectory.charge_C - instant == pytest.approx(
        _cumulative_trapezoid(t, trajectory.current_A), abs=1e-8
    )


def test_a_held_current_charges_the_capacitor_with_tau_rc() -> None:
    load = dummy(dummy_cell(1000.0, series_ohm=100.0, capacitance_F=1e-3))
    t = np.array([0.0, 1.0, 2.0])
    held = load.hold_current(1e-3, t)
    expected = 1e-3 * 100.0 + 1e-3 * 1000.0 * (1 - np.exp(-t / 1.0))
    assert held.voltage_V == pytest.approx(expected, rel=1e-12)
    load.commit(held, 2)
    assert load.open_circuit_voltage_V == pytest.approx(1.0 * (1 - math.exp(-2.0)))


def test_a_resistor_obeys_ohms_law_and_has_no_arc() -> None:
    load = dummy(dummy_cell(470.0))
    assert load.hold_voltage(0.47, np.array([0.0, 5.0])).current_A == pytest.approx(1e-3)
    assert load.impedance(np.array([1.0, 1e5])) == pytest.approx([470.0, 470.0])


def test_the_rc_arc_peaks_at_half_r_where_omega_rc_is_one() -> None:
    load = build_cell_model(dummy_cell(1000.0, series_ohm=10.0, capacitance_F=1e-6))
    f_apex = 1 / (2 * math.pi * 1e-3)
    z = load.impedance(np.array([f_apex]))  # type: ignore[attr-defined]
    assert z[0] == pytest.approx(10.0 + 500.0 - 500.0j)


def test_the_cell_file_form_reads_units() -> None:
    from cyclerctl.plan import CellSummary

    cell = CellSummary(
        name="rc", chemistry="dummy load", area_m2=1e-4, nominal_capacity_Ah=None,
        sim={"model": "dummy", "resistance": "1 kohm", "series": "10 ohm", "capacitance": "470 uF"},
    )  # fmt: skip
    params = dummy(cell).params
    assert (params.resistance_ohm, params.series_ohm) == (1000.0, 10.0)
    assert params.capacitance_F == pytest.approx(470e-6)
    with pytest.raises(ValueError, match="needs \\[sim\\] resistance"):
        dummy(CellSummary("x", "dummy load", 1e-4, None, sim={"model": "dummy"}))
