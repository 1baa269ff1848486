"""The ncm622-li cell: its OCV curve, its parameters, its capacity and its fade."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.insertion import InsertionCell
from cyclerctl.drivers.sim.ncm622 import OCV

from .helpers import Q0_C, QUIET, cc_discharge, cccv_charge, channel, coin_cell, rest, run


def test_ocv_has_the_published_shape() -> None:
    x = np.linspace(-0.02, 1.2, 5001)
    v = OCV(x)
    assert np.all(np.diff(v) > 0)
    assert OCV.value(0.0) == pytest.approx(3.0)
    assert OCV.value(1.0) == pytest.approx(4.3)
    assert OCV.value(0.5) == pytest.approx(3.75, abs=0.03)
    assert 3.55 < OCV.value(0.05) < 3.7  # the steep tail is over within a few per cent
    assert 4.4 < OCV.value(1.1) < 4.5  # over-charge keeps rising, a little
    assert OCV.value(2.0) > 5.0  # and is bounded by the voltage range, not by a plateau


def model(**sim: object) -> InsertionCell:
    built = build_cell_model(coin_cell(**sim))
    assert isinstance(built, InsertionCell)
    return built


def test_capacity_is_mass_times_specific_capacity_times_utilization() -> None:
    assert model().capacity_C == pytest.approx(Q0_C)
    assert model(utilization=0.9).capacity_C == pytest.approx(0.9 * Q0_C)
    nominal_only = dataclasses.replace(coin_cell(), active_mass_kg=None, nominal_capacity_Ah=2e-4)
    built = build_cell_model(nominal_only)
    assert isinstance(built, InsertionCell)
    assert built.capacity_C == pytest.approx(0.72)


def test_a_cell_without_any_capacity_is_refused() -> None:
    cell = dataclasses.replace(coin_cell(), active_mass_kg=None)
    with pytest.raises(ValueError, match="needs a capacity"):
        build_cell_model(cell)


def test_sim_parameters_are_read_with_units() -> None:
    p = model(
        resistance="0.05 kohm",
        polarization_resistance=15,
        polarization_time="2 min",
        temperature="30 degC",
        noise="50 uV",
        initial_soc=0.25,
    ).params
    assert p.series_resistance_ohm == pytest.approx(50.0)
    assert p.polarization_resistance_ohm == 15.0
    assert p.polarization_time_s == 120.0
    assert p.temperature_K == pytest.approx(303.15)
    assert p.voltage_noise_V == pytest.approx(50e-6)
    assert p.initial_soc == 0.25


def test_defaults() -> None:
    cell = dataclasses.replace(coin_cell(), sim={"model": "ncm622-li"})
    built = build_cell_model(cell)
    assert isinstance(built, InsertionCell)
    p = built.params
    one_c_A = cell.active_mass_kg * cell.specific_capacity_Ah_kg  # type: ignore[operator]
    assert p.series_resistance_ohm == 30.0
    assert p.polarization_resistance_ohm == pytest.approx(0.060 / one_c_A)  # 60 mV at 1C
    assert p.polarization_time_s == 600.0
    assert (p.fade_per_cycle, p.coulombic_efficiency, p.initial_soc) == (0.0005, 0.998, 0.0)
    assert p.voltage_noise_V == pytest.approx(0.2e-3)
    assert p.temperature_K == pytest.approx(298.15)


@pytest.mark.parametrize(
    ("sim", "message"),
    [
        ({"resistence": "30 ohm"}, "unknown \\[sim\\] key"),
        ({"resistance": "30 V"}, "not a unit of resistance"),
        ({"resistance": "-1 ohm"}, "resistance must be > 0"),
        ({"coulombic_efficiency": 1.2}, "coulombic_efficiency"),
        ({"seed": "twelve"}, "seed"),
    ],
)
def test_bad_sim_tables_are_refused(sim: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_cell_model(coin_cell(**sim))


def test_first_c10_discharge_delivers_the_specified_capacity() -> None:
    # the product's acceptance figure: within 3 % of specific capacity × utilization
    for utilization in (1.0, 0.85):
        ch = channel(coin_cell(utilization=utilization))
        charge, _ = run(ch, cccv_charge(rate=0.1))
        run(ch, rest())
        discharge, status = run(ch, cc_discharge(rate=0.1))
        assert status.end_reason == "limit:voltage"
        delivered = -discharge["Q"][-1]
        assert delivered == pytest.approx(utilization * Q0_C, rel=0.03)
        # the first charge of fresh NCM622 passes ~1/0.88 of what comes back: first-cycle
        # CE ≈ 0.88 (NCM622 half cells: 0.86–0.89), not the later cycles' 0.998
        first_ce = delivered / charge["Q"][-1]
        assert first_ce == pytest.approx(0.88, abs=0.005)
        run(ch, rest())
        charge, _ = run(ch, cccv_charge(rate=0.1))
        run(ch, rest())
        discharge, _ = run(ch, cc_discharge(rate=0.1))
        # from then on only the side reactions' share is lost (coulombic efficiency)
        assert -discharge["Q"][-1] / charge["Q"][-1] == pytest.approx(0.998, abs=0.002)


def test_the_first_cycle_loss_is_a_parameter_and_happens_once() -> None:
    for first in (1.0, 0.85):
        ch = channel(coin_cell(first_cycle_efficiency=first, **QUIET))
        ces = []
        for _ in range(3):
            charge, _ = run(ch, cccv_charge())
            run(ch, rest())
            discharge, _ = run(ch, cc_discharge())
            run(ch, rest())
            ces.append(-float(discharge["Q"][-1]) / float(charge["Q"][-1]))
        assert ces[0] == pytest.approx(min(first, 0.998), abs=0.003)
        assert ces[1:] == pytest.approx([0.998, 0.998], abs=0.002)
    with pytest.raises(ValueError, match="first_cycle_efficiency must be in"):
        build_cell_model(coin_cell(first_cycle_efficiency=0))


def discharge_capacities(cycles: int, **sim: object) -> list[float]:
    ch = channel(coin_cell(**QUIET, **sim))
    capacities = []
    for _ in range(cycles):
        run(ch, cccv_charge())
        run(ch, rest())
        points, _ = run(ch, cc_discharge())
        run(ch, rest())
        capacities.append(-float(points["Q"][-1]))
    return capacities


def test_capacity_fades_with_discharge_throughput() -> None:
    fade = 0.005
    capacities = discharge_capacities(20, fade_per_cycle=fade)
    # every coulomb discharged takes `fade` coulombs off the capacity
    expected = capacities[0] * (1 - fade * np.cumsum([0.0, *capacities[:-1]]) / Q0_C)
    assert capacities == pytest.approx(expected, rel=2e-3)
    assert capacities[-1] / capacities[0] == pytest.approx(1 - 19 * fade, abs=0.005)


def test_no_fade_means_a_steady_capacity() -> None:
    capacities = discharge_capacities(5, fade_per_cycle=0)
    # the first cycle's slower charge (its first-cycle loss) leaves the CV's end a little
    # different; from the second cycle on, the capacity stands still
    assert capacities[0] == pytest.approx(capacities[1], rel=2e-3)
    assert capacities[2:] == pytest.approx(capacities[1:-1], rel=1e-4)


@pytest.mark.slow
def test_hundred_cycles_at_the_default_fade_keep_95_percent() -> None:
    capacities = discharge_capacities(100)
    assert capacities[-1] / capacities[0] == pytest.approx(0.95, abs=0.01)
