"""The exact EClib calls the driver makes, replayed against the emulated library.

PyMeasure style: each test spells out every call (function, channel, technique file,
parameter labels, types, values, first/last flags) and asserts that nothing else was called.
Values cross the C boundary as singles: ``f32`` rounds the expected ones the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.biologic import BioLogicInstrument, EClib, EmulatedEClib
from cyclerctl.drivers.biologic.eclib import Param
from cyclerctl.drivers.biologic.emulated_eclib import EClibCall
from cyclerctl.plan import EndCondition, Step

CONNECT = [
    EClibCall("BL_Connect", ("USB0", 5)),
    EClibCall("BL_GetChannelsPlugged", (1, 16)),
    EClibCall("BL_GetChannelBoardType", (1, 0)),
    EClibCall("BL_LoadFirmware", (1, (0,), 16, False, False, None, None)),
    EClibCall("BL_GetChannelInfos", (1, 0)),
]


def f32(value: float) -> float:
    return float(np.float32(value))


def loaded(params: list[tuple[str, bool | int | float, int]]) -> tuple[Param, ...]:
    """The parameters as BL_LoadTechnique receives them (singles rounded)."""
    return tuple(
        Param(label, f32(v) if isinstance(v, float) else v, index) for label, v, index in params
    )


def defines(params: list[tuple[str, bool | int | float, int]]) -> list[EClibCall]:
    """One BL_Define*Parameter call per parameter, in order."""
    calls = []
    for label, value, index in params:
        if isinstance(value, bool):
            calls.append(EClibCall("BL_DefineBoolParameter", (label, value, index)))
        elif isinstance(value, int):
            calls.append(EClibCall("BL_DefineIntParameter", (label, value, index)))
        else:
            calls.append(EClibCall("BL_DefineSglParameter", (label, f32(value), index)))
    return calls


def load(
    file: str, params: list[tuple[str, bool | int | float, int]], *, first: bool, last: bool
) -> list[EClibCall]:
    call = EClibCall("BL_LoadTechnique", (1, 0, file, loaded(params), first, last, False))
    return [*defines(params), call]


@pytest.fixture
def instrument(eclib: EClib, library: EmulatedEClib) -> BioLogicInstrument:
    instrument = BioLogicInstrument("USB0", eclib, virtual_time=True)
    instrument.connect()
    return instrument


def test_connect_loads_the_kernel_and_reads_the_channel(
    eclib: EClib, library: EmulatedEClib
) -> None:
    instrument = BioLogicInstrument("USB0", eclib)
    instrument.connect()
    assert library.take_calls() == CONNECT
    identity = instrument.identity
    assert (identity.vendor, identity.model, identity.serial) == ("BioLogic", "VMP3", "board 24000")
    assert identity.firmware.startswith("comm 11.42 (2024-05-01)")
    (channel,) = instrument.channels
    assert channel.name == "biologic:1"
    assert channel.capabilities.current_max_A == pytest.approx(0.1)
    assert channel.capabilities.eis


def test_a_rest_is_one_ocv_read_until_the_channel_stops(
    instrument: BioLogicInstrument, library: EmulatedEClib
) -> None:
    library.take_calls()
    (channel,) = instrument.channels
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 5.0),)))
    ocv = [
        ("Rest_time_T", 5.0, 0),
        ("Record_every_dE", 0.0, 0),
        ("Record_every_dT", 1.0, 0),
        ("E_Range", 3, 0),
    ]
    assert library.take_calls() == [
        *load("ocv.ecc", ocv, first=True, last=True),
        EClibCall("BL_StartChannel", (1, 0)),
    ]
    samples = channel.read()
    assert library.take_calls() == [EClibCall("BL_GetData", (1, 0))]
    assert samples.ended and samples.end_reason == "time"
    assert samples.points["t"] == pytest.approx([0, 1, 2, 3, 4, 5], abs=1e-4)
    assert np.all(samples.points["I"] == 0) and np.all(samples.points["Q"] == 0)
    assert np.all((samples.points["V"] > 2.5) & (samples.points["V"] < 4.4))  # at rest
    assert np.isnan(samples.points["T"]).all()


def test_a_cc_charge_to_a_voltage_is_cplimit_with_one_ewe_test(
    instrument: BioLogicInstrument, library: EmulatedEClib
) -> None:
    library.take_calls()
    (channel,) = instrument.channels
    step = Step(
        1,
        "charge",
        "cc",
        current_A=2e-5,
        ends=(EndCondition("voltage_above", 4.2), EndCondition("time", 7200.0)),
    )
    channel.start_step(step)
    cplimit = [
        ("Current_step", 2e-5, 0),
        ("vs_initial", False, 0),
        ("Duration_step", 7200.0, 0),
        ("Test1_Config", 0b101, 0),  # active, OR, "≥", Ewe
        ("Test1_Value", 4.2, 0),
        ("Test2_Config", 0, 0),
        ("Test2_Value", 0.0, 0),
        ("Test3_Config", 0, 0),
        ("Test3_Value", 0.0, 0),
        ("Exit_Cond", 1, 0),  # next technique (there is none: the experiment ends)
        ("Step_number", 0, 0),
        ("Record_every_dT", 1.0, 0),
        ("Record_every_dE", 0.0, 0),
        ("N_Cycles", 0, 0),
        ("I_Range", 6, 0),  # 100 µA
        ("E_Range", 3, 0),
        ("Bandwidth", 5, 0),
    ]
    assert library.take_calls() == [
        *load("cplimit.ecc", cplimit, first=True, last=True),
        EClibCall("BL_StartChannel", (1, 0)),
    ]
    samples = channel.read()
    calls = library.take_calls()
    assert {c.name for c in calls} == {"BL_GetData"} and all(c.code == 0 for c in calls)
    # 200 rows of 5 words fill one buffer; one read drains the memory
    assert len(calls) == -(-len(samples.points) // 200)
    assert not samples.ended
    assert samples.points["I"] == pytest.approx(2e-5, rel=0.01)
    Q = samples.points["Q"]
    assert Q[-1] == pytest.approx(2e-5 * samples.points["t"][-1], rel=1e-3)
    channel.stop()
    assert library.take_calls() == [EClibCall("BL_StopChannel", (1, 0))]
    while not (samples := channel.read()).ended:
        pass
    assert samples.end_reason is None  # stopped from outside: the engine has the reason
    assert {c.name for c in library.take_calls()} == {"BL_GetData"}


def test_a_cccv_step_links_cplimit_and_calimit(
    instrument: BioLogicInstrument, library: EmulatedEClib
) -> None:
    library.take_calls()
    (channel,) = instrument.channels
    step = Step(
        2,
        "charge",
        "cccv",
        current_A=2e-3,
        voltage_V=4.3,
        ends=(EndCondition("current_below", 1e-4), EndCondition("time", 36000.0)),
    )
    channel.start_step(step)
    cc = [
        ("Current_step", 2e-3, 0),
        ("vs_initial", False, 0),
        ("Duration_step", 36000.0, 0),
        ("Test1_Config", 0b101, 0),
        ("Test1_Value", 4.3, 0),  # Ewe ≥ 4.3 V
        ("Test2_Config", 0, 0),
        ("Test2_Value", 0.0, 0),
        ("Test3_Config", 0, 0),
        ("Test3_Value", 0.0, 0),
        ("Exit_Cond", 1, 0),
        ("Step_number", 0, 0),
        ("Record_every_dT", 1.0, 0),
        ("Record_every_dE", 0.0, 0),
        ("N_Cycles", 0, 0),
        ("I_Range", 8, 0),
        ("E_Range", 3, 0),
        ("Bandwidth", 5, 0),
    ]
    cv = [
        ("Voltage_step", 4.3, 0),
        ("vs_initial", False, 0),
        ("Duration_step", 36000.0, 0),
        ("Test1_Config", 0b1100001, 0),
        ("Test1_Value", 1e-4, 0),  # I ≤ 0.1 mA
        ("Test2_Config", 0, 0),
        ("Test2_Value", 0.0, 0),
        ("Test3_Config", 0, 0),
        ("Test3_Value", 0.0, 0),
        ("Exit_Cond", 1, 0),
        ("Step_number", 0, 0),
        ("Record_every_dT", 1.0, 0),
        ("Record_every_dI", 0.0, 0),
        ("N_Cycles", 0, 0),
        ("I_Range", 12, 0),
        ("E_Range", 3, 0),
        ("Bandwidth", 5, 0),
    ]
    assert library.take_calls() == [
        *load("cplimit.ecc", cc, first=True, last=False),
        *load("calimit.ecc", cv, first=False, last=True),
        EClibCall("BL_StartChannel", (1, 0)),
    ]
    blocks = []
    while not (samples := channel.read()).ended:
        blocks.append(samples.points)
    blocks.append(samples.points)
    assert samples.end_reason == "limit:current"
    points = np.concatenate(blocks)
    assert np.all(np.diff(points["t"]) >= 0)  # the CV technique continues the step's time
    assert points["V"].max() == pytest.approx(4.3, abs=0.01)
    assert abs(points["I"][-1]) == pytest.approx(1e-4, rel=0.05)
    assert {c.name for c in library.take_calls()} == {"BL_GetData"}


def test_the_next_step_drains_a_stopped_technique_before_loading(
    instrument: BioLogicInstrument, library: EmulatedEClib
) -> None:
    (channel,) = instrument.channels
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 36000.0),)))
    channel.read()  # the engine stops after a host condition and reads no more
    channel.stop()
    library.take_calls()
    channel.start_step(Step(1, "rest", "rest", ends=(EndCondition("time", 2.0),)))
    calls = library.take_calls()
    assert calls[0] == EClibCall("BL_StopChannel", (1, 0))
    assert calls[1] == EClibCall("BL_GetData", (1, 0))
    assert [c.name for c in calls[-2:]] == ["BL_LoadTechnique", "BL_StartChannel"]


def test_close_disconnects(instrument: BioLogicInstrument, library: EmulatedEClib) -> None:
    library.take_calls()
    instrument.close()
    assert library.take_calls() == [EClibCall("BL_Disconnect", (1,))]


def test_a_limit_the_technique_cannot_hold_is_watched_and_stops_the_channel(
    instrument: BioLogicInstrument, library: EmulatedEClib
) -> None:
    """OCV has no limit tests: the channel checks a rest's voltage limit itself."""
    (channel,) = instrument.channels
    step = Step(
        0,
        "rest",
        "rest",
        ends=(EndCondition("time", 600.0), EndCondition("voltage_below", 3.5)),
    )
    channel.start_step(step)  # the discharged coin cell rests near 3.0 V
    library.take_calls()
    samples = channel.read()
    assert samples.ended and samples.end_reason == "limit:voltage"
    assert len(samples.points) == 1 and samples.points["V"][0] <= 3.5
    # the OCV had already run its 600 s on the (virtual-time) device: nothing to stop;
    # 601 rows of 4 words are three buffers
    assert library.take_calls() == [EClibCall("BL_GetData", (1, 0))] * 3
