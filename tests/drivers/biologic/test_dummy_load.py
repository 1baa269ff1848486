"""The emulated library's commissioning aids: a dummy load on the channel, a deliberately
mis-scaled phase, and the time origin the driver takes from TDataInfos.StartTime."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.drivers.biologic import (
    PHASE_ZWE_UNIT,
    UNCONFIRMED,
    BioLogicInstrument,
    EClib,
    EmulatedEClib,
    open_instrument,
)
from cyclerctl.drivers.biologic.driver import BioLogicChannel
from cyclerctl.drivers.biologic.eclib import DataRead
from cyclerctl.drivers.sim.dummy import dummy, dummy_cell
from cyclerctl.plan import CellSummary, EisSettings, EndCondition, Step
from tests.drivers.biologic.stepping import run_step

RC = dummy_cell(1000.0, series_ohm=100.0, capacitance_F=1e-6)
SPECTRUM = EisSettings("potentiostatic", 1e5, 1.0, 0.01, points_per_decade=4)


def _channel(load: CellSummary, **options: object) -> BioLogicChannel:
    instrument = open_instrument("emulated", {"emulated_cells": [load], "seed": 2, **options})
    assert isinstance(instrument, BioLogicInstrument)
    return instrument.channels[0]


@pytest.mark.parametrize("current_A", [1e-3, -1e-3])
def test_a_resistor_obeys_ohms_law_with_the_sign_of_the_current(current_A: float) -> None:
    channel = _channel(dummy_cell(1000.0))
    points, _ = run_step(
        channel, Step(0, "cc", "cc", current_A=current_A, ends=(EndCondition("time", 10.0),))
    )
    assert points["V"] == pytest.approx(1000.0 * current_A, abs=1e-4)
    assert points["Q"][-1] == pytest.approx(10.0 * current_A, rel=1e-3)


def test_a_resistor_rests_at_zero_volts() -> None:
    points, _ = run_step(
        _channel(dummy_cell(1000.0)), Step(0, "rest", "rest", ends=(EndCondition("time", 5.0),))
    )
    assert np.abs(points["V"]).max() < 1e-4


def test_a_voltage_hold_on_rc_decays_to_the_leak_current() -> None:
    points, _ = run_step(
        _channel(dummy_cell(1000.0, series_ohm=100.0, capacitance_F=1e-3)),
        Step(0, "cv", "cv", voltage_V=0.5, ends=(EndCondition("time", 5.0),)),
    )
    # τ = C·(R_s‖R_p) = 91 ms: long settled at V/(R_s + R_p)
    assert points["I"][-1] == pytest.approx(0.5 / 1100.0, rel=1e-3)


def test_the_rc_arc_comes_back_as_the_dummy_s_impedance() -> None:
    _, z = run_step(_channel(RC), Step(0, "eis", "eis", eis=SPECTRUM))
    assert z is not None and len(z) == 21
    expected = dummy(RC).impedance(z["f"])
    assert z["Zre"] + 1j * z["Zim"] == pytest.approx(expected, rel=0.01)
    # the arc's top: −Z'' = R_p/2 at f = 1/(2π·R_p·C) = 159 Hz
    top = int(np.argmin(z["Zim"]))
    assert -z["Zim"][top] == pytest.approx(500.0, rel=0.05)
    assert z["f"][top] == pytest.approx(1 / (2 * math.pi * 1e-3), rel=0.35)


def test_a_phase_in_degrees_breaks_the_arc() -> None:
    """miscale="phase_degrees": the emulator writes Phase_Zwe in degrees while the decoder
    reads radians, so |Z| stays right and the arc does not: what a commissioning check on
    an RC dummy sees."""
    assert PHASE_ZWE_UNIT == "rad"
    _, z = run_step(_channel(RC, miscale="phase_degrees"), Step(0, "eis", "eis", eis=SPECTRUM))
    assert z is not None
    expected = dummy(RC).impedance(z["f"])
    measured = z["Zre"] + 1j * z["Zim"]
    assert np.abs(measured) == pytest.approx(np.abs(expected), rel=0.01)
    assert np.max(np.abs(measured - expected) / np.abs(expected)) > 0.5


def test_the_emulator_refuses_an_unknown_miscale() -> None:
    with pytest.raises(ValueError, match="miscale 'current_mA': one of phase_degrees"):
        EmulatedEClib([RC], miscale="current_mA")


def test_the_phase_unit_is_listed_as_unconfirmed() -> None:
    assert any("Phase_Zwe" in line for line in UNCONFIRMED)


class ShiftedStart(EClib):
    """The binding, with TDataInfos.StartTime of the second technique moved on by 100 s."""

    def get_data(self, device_id: int, channel: int) -> DataRead:
        data = super().get_data(device_id, channel)
        if data.infos.TechniqueIndex == 1:
            data.infos.StartTime += 100.0
        return data


def test_the_step_time_follows_the_technique_start_time() -> None:
    """A CC-CV step is CPLIMIT then CALIMIT: the CA's points sit at StartTime + t, not
    where the driver would guess the CC phase ended."""
    library = EmulatedEClib([dummy_cell(1e6, series_ohm=100.0, capacitance_F=1.0)])
    instrument = BioLogicInstrument("USB0", ShiftedStart(library), virtual_time=True)
    instrument.connect()
    step = Step(
        0,
        "cccv",
        "cccv",
        current_A=1e-3,
        voltage_V=0.2,
        ends=(EndCondition("time", 300.0), EndCondition("current_below", 2e-4)),
    )
    points, _ = run_step(instrument.channels[0], step)
    jumps = np.diff(points["t"])
    assert jumps.max() == pytest.approx(100.0, abs=2.0)  # the gap the shifted origin makes
    assert points["t"][-1] > 200.0
