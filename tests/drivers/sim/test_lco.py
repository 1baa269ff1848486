"""The lco-li cell: its OCV curve, its capacity, and a rate capability that falls with rate
and comes back at low rate."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.drivers.sim.insertion import InsertionCell
from cyclerctl.drivers.sim.lco import OCV, LcoCell
from cyclerctl.plan import CellSummary

from .helpers import channel, rest, run, step, until

DISK_M2 = math.pi * 0.006**2
MASS_KG = 5e-6 / 1e-4 * DISK_M2  # 5 mg/cm²
SPECIFIC_AH_KG = 140.0
I_1C_A = MASS_KG * SPECIFIC_AH_KG
Q0_C = I_1C_A * 3600.0
QUIET = {"noise": 0, "current_noise": 0}


def lco_cell(**sim: Any) -> CellSummary:
    """The lab's LCO coin half-cell (protocols/cells/lco-coin.toml)."""
    return CellSummary(
        name="LCO coin 12 mm, 5 mg/cm2",
        chemistry="LCO|Li",
        area_m2=DISK_M2,
        nominal_capacity_Ah=None,
        active_mass_kg=MASS_KG,
        specific_capacity_Ah_kg=SPECIFIC_AH_KG,
        sim={"model": "lco-li", "resistance": "30 ohm", "temperature": "25 degC", "seed": 701,
             **sim},
    )


def model(**sim: Any) -> LcoCell:
    built = build_cell_model(lco_cell(**QUIET, **sim))
    assert isinstance(built, LcoCell)
    return built


def test_ocv_has_the_published_shape() -> None:
    x = np.linspace(-0.02, 1.2, 5001)
    assert np.all(np.diff(OCV(x)) > 0)
    assert OCV.value(0.0) == pytest.approx(3.0)
    assert OCV.value(1.0) == pytest.approx(4.2)
    plateau = OCV(np.linspace(0.15, 0.48, 50))  # the two-phase region, 0.75 < y < 0.93
    assert plateau.min() > 3.91 and plateau.max() < 3.94
    assert 3.8 < OCV.value(0.05) < 3.9  # the steep tail is over within a few per cent
    assert 4.3 < OCV.value(1.15) < 4.4  # over-charge to ~4.4 V at ~165 mAh/g


def test_parameters_add_the_rate_terms_to_the_insertion_model() -> None:
    cell = model()
    p = cell.params
    rate_ohm = 0.040 / I_1C_A  # 40 mV per C
    assert p.series_resistance_ohm == pytest.approx(30.0 + rate_ohm)
    assert p.polarization_resistance_ohm == pytest.approx(0.060 / I_1C_A)
    assert cell.capacity_C == pytest.approx(Q0_C)
    assert cell.rate.diffusion_shift == 0.06
    assert cell.rate.one_c_A == pytest.approx(I_1C_A)


@pytest.mark.parametrize(
    ("sim", "message"),
    [
        ({"rate_polarisation": "40 mV"}, "unknown \\[sim\\] key.*rate_polarization.*resistance"),
        ({"diffusion_shift": 1.5}, "diffusion_shift must be in \\[0, 1\\)"),
        ({"rate_polarization": "40 ohm"}, "not a unit of voltage"),
        ({"resistance": "-1 ohm"}, "resistance must be > 0"),
    ],
)
def test_bad_sim_tables_are_refused(sim: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_cell_model(lco_cell(**sim))


def test_without_rate_terms_it_is_the_plain_insertion_model() -> None:
    cell = model(rate_polarization=0, diffusion_shift=0)
    plain = InsertionCell(cell.params, OCV)
    t = np.linspace(0.0, 3600.0, 13)
    for current in (I_1C_A, -0.5 * I_1C_A):
        assert np.array_equal(
            cell.hold_current(current, t).voltage_V, plain.hold_current(current, t).voltage_V
        )
    assert np.array_equal(cell.hold_voltage(4.0, t).current_A, plain.hold_voltage(4.0, t).current_A)


def test_a_current_step_jumps_by_the_ohmic_rate_and_surface_terms() -> None:
    cell = model(initial_soc=0.5)
    for rate in (0.1, 1.0, 2.0, -2.0):
        current = rate * I_1C_A
        v0 = float(cell.hold_current(current, np.zeros(1)).voltage_V[0])
        surface = OCV.value(0.5 + 0.06 * rate) - OCV.value(0.5)
        assert v0 - OCV.value(0.5) == pytest.approx(
            current * (30.0 + 0.040 / I_1C_A) + surface, rel=1e-9
        )


def test_the_cv_hold_starts_on_the_current_the_cc_phase_ended_with() -> None:
    cell = model()
    current = 2 * I_1C_A
    t = np.linspace(0.0, 3 * 3600.0, 10801)
    cc = cell.hold_current(current, t)
    k = int(np.argmax(cc.voltage_V >= 4.2))
    cell.commit(cc, k)
    cv = cell.hold_voltage(float(cc.voltage_V[k]), np.array([0.0, 1.0, 600.0]))
    assert float(cv.current_A[0]) == pytest.approx(current, rel=1e-6)
    assert cv.current_A[2] < cv.current_A[1] < cv.current_A[0]  # and then decays


def test_the_first_c10_discharge_delivers_the_specified_capacity() -> None:
    ch = channel(lco_cell(**QUIET), sample_interval_s=10.0)
    run(ch, step("cccv", current_A=0.1 * I_1C_A, voltage_V=4.2,
                 ends=until(current_below=I_1C_A / 20, time=30 * 3600.0)))
    run(ch, rest())
    points, status = run(
        ch, step("cc", current_A=-0.1 * I_1C_A, ends=until(voltage_below=3.0, time=30 * 3600.0))
    )
    assert status.end_reason == "limit:voltage"
    assert -points["Q"][-1] == pytest.approx(Q0_C, rel=0.03)


def rate_capability(rates: list[float], **sim: Any) -> list[float]:
    """The lco-rate protocol, one cycle per rate: CC-CV charge and CC discharge at the rate."""
    ch = channel(lco_cell(**sim), sample_interval_s=10.0)
    capacities = []
    for rate in rates:
        charge = step("cccv", current_A=rate * I_1C_A, voltage_V=4.2,
                      ends=until(current_below=I_1C_A / 20, time=30 * 3600.0))
        run(ch, charge)
        run(ch, rest(600.0))
        discharge = step("cc", current_A=-rate * I_1C_A,
                         ends=until(voltage_below=3.0, time=30 * 3600.0))
        points, status = run(ch, discharge)
        assert status.end_reason == "limit:voltage"
        run(ch, rest(600.0))
        capacities.append(-float(points["Q"][-1]))
    return capacities


def test_rate_capability_falls_with_rate_and_recovers() -> None:
    capacities = rate_capability([0.1, 0.2, 0.5, 1.0, 2.0, 0.1])
    assert capacities[:5] == sorted(capacities[:5], reverse=True)
    assert all(a - b > 0.005 * Q0_C for a, b in itertools.pairwise(capacities[:5]))
    assert 0.80 <= capacities[4] / capacities[0] <= 0.90  # 2C against 0.1C
    assert capacities[5] / capacities[0] == pytest.approx(1.0, abs=0.01)  # back at 0.1C


def test_without_the_diffusion_term_high_rate_loses_little() -> None:
    # the OCV's steep tail alone leaves only a few per cent at 2C: the surface term is what
    # makes a rate test show a rate effect
    capacities = rate_capability([0.1, 2.0], diffusion_shift=0)
    assert capacities[1] / capacities[0] > 0.95


def test_set_temperature_moves_the_electrolyte_resistance_only() -> None:
    cell = model(initial_soc=0.5)
    rate_ohm = 0.040 / I_1C_A
    z0 = cell.impedance(np.array([1e9]))[0]
    cell.set_temperature(333.15)
    factor = math.exp(0.30 / 8.617333262e-5 * (1 / 333.15 - 1 / 298.15))
    assert cell.temperature_K == 333.15
    assert cell.params.series_resistance_ohm == pytest.approx(30.0 * factor + rate_ohm)
    z1 = cell.impedance(np.array([1e9]))[0]
    assert z0.real - z1.real == pytest.approx(30.0 * (1 - factor), rel=1e-6)
    # the spectrum is the model's own: capacitive at low frequency, from the OCV's slope
    omega = 2 * math.pi * 1e-7
    z = cell.impedance(np.array([omega / (2 * math.pi)]))[0]
    assert -z.imag * omega * cell.capacity_C == pytest.approx(OCV.slope(0.5), rel=1e-4)
