"""The channel against the emulator: CV direction, resumed steps, the end read from records."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.neware import NewareChannel, NewareEmulator, open_instrument
from cyclerctl.drivers.neware.driver import end_reason_from_record
from cyclerctl.drivers.registry import driver
from cyclerctl.plan import EndCondition, RecordCriteria, Step
from cyclerctl.protocol import load_plan

CELL = load_plan("ncm622-cycling", "ncm622-coin").cell
EVERY_10_S = RecordCriteria(every_s=10.0)


@pytest.fixture
def emulator() -> Iterator[NewareEmulator]:
    emulator = NewareEmulator([CELL])
    yield emulator
    emulator.close()


@pytest.fixture
def channel(emulator: NewareEmulator) -> Iterator[NewareChannel]:
    instrument = open_instrument(emulator.address, {"virtual_time": True})
    yield instrument.channels[0]
    instrument.close()


def run_to_end(channel: NewareChannel) -> Samples:
    blocks = []
    while True:
        samples = channel.read()
        blocks.append(samples.points)
        if samples.ended:
            return Samples(np.concatenate(blocks), ended=True, end_reason=samples.end_reason)


def test_the_driver_is_registered_with_its_emulator() -> None:
    entry = driver("neware")
    emulator = entry.start_emulator([CELL], "127.0.0.1", 0, {"virtual_time": True, "seed": 3})
    try:
        instrument = entry.open_instrument(emulator.address, {"virtual_time": True, "seed": None})
        assert instrument.identity.vendor == "Neware"
        assert instrument.channels[0].capabilities.virtual_time
        instrument.close()
    finally:
        emulator.close()
    with pytest.raises(ValueError, match="unknown options"):
        entry.open_instrument(emulator.address, {"virtual_tme": True})


def test_an_emulated_address_brings_its_own_emulator() -> None:
    instrument = open_instrument("emulated", {"virtual_time": True, "emulated_cells": [CELL]})
    channel = instrument.channels[0]
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 30.0),)))
    assert run_to_end(channel).end_reason == "time"
    instrument.close()


def test_a_cv_hold_above_the_cell_voltage_charges_and_ends_on_its_current(
    channel: NewareChannel,
) -> None:
    ends = (EndCondition("current_below", 2e-6), EndCondition("time", 36000.0))
    hold = Step(0, "hold", "cv", voltage_V=4.0, record=EVERY_10_S, ends=ends)
    channel.start_step(hold)  # no voltage seen yet: the driver asks (inquire) first
    samples = run_to_end(channel)
    assert samples.end_reason == "limit:current"
    assert samples.points["Q"][-1] > 0 and np.all(np.diff(samples.points["Q"]) >= -1e-12)
    assert samples.points["V"][-1] == pytest.approx(4.0, abs=0.005)


def test_a_resumed_step_continues_its_time_and_charge(channel: NewareChannel) -> None:
    step = Step(0, "discharge", "cc", current_A=-1e-4, record=EVERY_10_S,
                ends=(EndCondition("time", 600.0), EndCondition("voltage_below", 2.0)))  # fmt: skip
    channel.start_step(step, StepProgress(elapsed_s=200.0, charge_C=-0.02))
    samples = run_to_end(channel)
    assert samples.end_reason == "time"
    t, Q = samples.points["t"], samples.points["Q"]
    assert t[0] == 200.0 and t[-1] == pytest.approx(600.0)
    assert Q[0] == pytest.approx(-0.02) and Q[-1] == pytest.approx(-0.02 - 400 * 1e-4)


def test_a_new_step_stops_the_one_before(channel: NewareChannel, emulator: NewareEmulator) -> None:
    long_rest = Step(0, "rest", "rest", ends=(EndCondition("time", 3600.0),), record=EVERY_10_S)
    channel.start_step(long_rest)
    assert len(channel.read().points) > 0
    channel.start_step(long_rest)  # stop, wait until idle, start: the cycler starts a new test
    assert emulator.channel_state("1-1-1")[:2] == ("working", 2)
    channel.stop()
    last = channel.read()
    assert last.ended and last.end_reason is None  # the engine records why it stopped


def test_the_end_is_read_from_the_last_record() -> None:
    step = Step(0, "s", "cccv", current_A=1e-3, voltage_V=4.2, ends=(
        EndCondition("current_below", 5e-5), EndCondition("time", 3600.0),
        EndCondition("charge", 3.6),
    ))  # fmt: skip
    assert end_reason_from_record(step, t=3600.0, V=4.2, I=2e-4, charge_C=2.0) == "time"
    assert end_reason_from_record(step, t=1800.0, V=4.2, I=2e-4, charge_C=3.6) == "limit:charge"
    assert end_reason_from_record(step, t=1800.0, V=4.2, I=5.1e-5, charge_C=2.0) == (
        "limit:current"
    )
    cc = Step(0, "d", "cc", current_A=-1e-3, ends=(EndCondition("voltage_below", 3.0),))
    assert end_reason_from_record(cc, t=10.0, V=2.9996, I=-1e-3, charge_C=0.01) == ("limit:voltage")
    assert end_reason_from_record(Step(0, "r", "rest"), t=1.0, V=3.0, I=0.0, charge_C=0.0) == (
        "instrument:finish"
    )


def test_a_cccv_charge_reads_its_end_against_the_limits_it_wrote(channel: NewareChannel) -> None:
    # reaching 4.3 V is the switch to CV, not an end, though the plan may list it
    step = Step(0, "charge", "cccv", current_A=2e-4, voltage_V=4.3, record=EVERY_10_S, ends=(
        EndCondition("voltage_above", 4.3), EndCondition("current_below", 1e-5),
        EndCondition("time", 36000.0),
    ))  # fmt: skip
    channel.start_step(step)
    assert run_to_end(channel).end_reason == "limit:current"
