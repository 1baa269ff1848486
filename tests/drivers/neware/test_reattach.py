"""Re-attaching to a step the emulated cycler kept running while no driver watched it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.neware import (
    NewareChannel,
    NewareEmulator,
    NewareInstrument,
    open_instrument,
)
from cyclerctl.drivers.neware.tag import CHAIN, StepTag
from cyclerctl.engine.reattach import Reattachable
from cyclerctl.plan import EndCondition, RecordCriteria, Step
from cyclerctl.protocol import load_plan

CELL = load_plan("ncm622-cycling", "ncm622-coin").cell
EVERY_10_S = RecordCriteria(every_s=10.0)
CHARGE = Step(
    index=0,
    name="charge",
    kind="cc",
    current_A=0.0002,
    ends=(EndCondition("voltage_above", 4.3), EndCondition("time", 3000.0)),
    record=EVERY_10_S,
)
REST = Step(
    index=1, name="rest", kind="rest", ends=(EndCondition("time", 3000.0),), record=EVERY_10_S
)
#: real time × SPEED: the cycler goes on while no driver is connected (≈ 1.5 s a step)
SPEED = 2000.0


@pytest.fixture
def emulator() -> Iterator[NewareEmulator]:
    emulator = NewareEmulator([CELL], seed=5, virtual_time=False, speed=SPEED)
    yield emulator
    emulator.close()


def connect(emulator: NewareEmulator) -> tuple[NewareInstrument, NewareChannel]:
    instrument = open_instrument(emulator.address, {})
    return instrument, instrument.channels[0]


def crash(instrument: NewareInstrument) -> None:
    """The daemon dies: the socket closes, nothing is stopped."""
    instrument.link.close()


def read_until(channel: NewareChannel, n: int) -> np.ndarray:
    blocks: list[np.ndarray] = []
    while sum(len(b) for b in blocks) < n:
        samples = channel.read()
        blocks.append(samples.points)
        assert not samples.ended
        time.sleep(0.02)
    return np.concatenate(blocks)


def run_to_end(channel: NewareChannel) -> Samples:
    blocks = []
    while True:
        samples = channel.read()
        blocks.append(samples.points)
        if samples.ended:
            return Samples(np.concatenate(blocks), ended=True, end_reason=samples.end_reason)
        time.sleep(0.02)


def progress_at(points: np.ndarray, i: int) -> StepProgress:
    return StepProgress(float(points["t"][i]), float(points["Q"][i]))


def test_the_channel_is_reattachable(emulator: NewareEmulator) -> None:
    instrument, channel = connect(emulator)
    assert isinstance(channel, Reattachable)
    instrument.close()


@pytest.mark.parametrize("step", [CHARGE, REST], ids=["charge", "rest"])
def test_a_working_step_continues_after_the_last_stored_point(
    emulator: NewareEmulator, step: Step
) -> None:
    first, channel = connect(emulator)
    channel.start_step(step)
    seen = read_until(channel, 30)
    crash(first)
    stored = 20  # the last points read were never committed
    second, again = connect(emulator)
    assert again.reattach(step, progress_at(seen, stored - 1))
    rest = run_to_end(again)
    second.close()
    # the points after the last stored one, again, then the rest of the step: one test
    for name in ("t", "V", "I", "Q"):
        np.testing.assert_array_equal(rest.points[name][: len(seen) - stored], seen[name][stored:])
    assert (np.diff(rest.points["t"]) > 0).all()
    assert rest.end_reason in ("time", "limit:voltage")
    assert rest.end_reason == "time" or step is CHARGE
    assert emulator.connections == 2 and emulator.channel_state("1-1-1")[1] == 1


def test_a_step_that_ended_on_board_hands_over_its_rest_and_reason(
    emulator: NewareEmulator,
) -> None:
    first, channel = connect(emulator)
    channel.start_step(CHARGE)
    seen = read_until(channel, 10)
    crash(first)
    wait = time.monotonic() + 10  # the cycler ends the step meanwhile
    while emulator.channel_state("1-1-1")[0] == "working" and time.monotonic() < wait:
        time.sleep(0.05)
    status, _, records = emulator.channel_state("1-1-1")
    assert status == "finish"
    second, again = connect(emulator)
    assert again.reattach(CHARGE, progress_at(seen, len(seen) - 1))
    rest = run_to_end(again)
    second.close()
    assert rest.end_reason in ("time", "limit:voltage")
    assert len(seen) + len(rest.points) == records
    assert rest.points["t"][0] > seen["t"][-1] and (np.diff(rest.points["t"]) > 0).all()


def test_at_the_start_of_a_step_a_working_test_of_its_kind_is_taken_over(
    emulator: NewareEmulator,
) -> None:
    first, channel = connect(emulator)
    channel.start_step(REST)
    crash(first)
    second, again = connect(emulator)
    assert again.reattach(REST, StepProgress())
    assert run_to_end(again).end_reason == "time"
    second.close()


def test_an_idle_ended_or_stopped_channel_is_not_attached(emulator: NewareEmulator) -> None:
    instrument, channel = connect(emulator)
    assert not channel.reattach(CHARGE, StepProgress(100.0, 0.5))  # never started
    channel.start_step(REST)
    run_to_end(channel)
    # the step before has finished: at the start of the next one, restart it
    assert not channel.reattach(CHARGE, StepProgress())
    # a finished test that its tag names as this step, begun where the stored data ends,
    # is the step, ended while no daemon watched: its records and end, not a second run
    assert channel.reattach(REST, StepProgress())
    rest = run_to_end(channel)
    assert rest.end_reason == "time" and len(rest.points) == emulator.channel_state("1-1-1")[2]
    channel.start_step(CHARGE)
    points = read_until(channel, 5)
    channel.stop()
    run_to_end(channel)
    assert not channel.reattach(CHARGE, progress_at(points, 2))  # stopped on board
    channel.start_step(CHARGE)  # the engine restarts it
    assert len(read_until(channel, 3))
    instrument.close()


def test_another_step_still_working_is_stopped_so_the_step_can_restart(
    emulator: NewareEmulator,
) -> None:
    first, channel = connect(emulator)
    channel.start_step(REST)
    seen = read_until(channel, 10)
    crash(first)
    second, again = connect(emulator)
    # a different kind of step
    assert not again.reattach(CHARGE, StepProgress(float(seen["t"][5]), 0.0))
    assert emulator.channel_state("1-1-1")[0] == "stop"
    again.start_step(REST)  # the engine restarts it
    assert len(read_until(again, 3))
    second.close()


def test_a_step_restarted_part_way_is_found_by_its_tag(emulator: NewareEmulator) -> None:
    """A test started part-way counts from 0 on board; its barcode says where it began."""
    first, channel = connect(emulator)
    entered = StepProgress(1234.5, 0.25)
    channel.start_step(CHARGE, entered)
    seen = read_until(channel, 20)
    assert seen["t"][0] == entered.elapsed_s and seen["Q"][0] == entered.charge_C
    crash(first)
    second, again = connect(emulator)
    assert again.reattach(CHARGE, progress_at(seen, 9))
    rest = run_to_end(again)
    second.close()
    for name in ("t", "Q"):
        np.testing.assert_array_equal(rest.points[name][:10], seen[name][10:20])


def test_the_tag_carries_the_step_and_where_its_test_began() -> None:
    tag = StepTag(4, 0.0, 0.0, (17, StepTag(3, 1200.125, -0.36)))
    assert StepTag.parse(tag.barcode("cell-7")) == tag
    assert tag.barcode("cell-7").startswith("cell-7|")  # the lab's barcode stays first
    assert StepTag.parse("cell-7") is None  # an operator's own test
    assert StepTag.parse("cell-7|cyclerctl:3:nan:0.0") is None
    assert StepTag.parse("cell-7|cyclerctl:3:1.0") is None
    # a new step's test names the tests before it, the newest first, up to CHAIN of them
    chained = StepTag(0)
    for testid in range(1, CHAIN + 3):
        chained = StepTag(testid).after(testid, chained)
    assert [testid for testid, _ in chained.chain()] == list(range(CHAIN + 2, 2, -1))
    assert StepTag.parse(chained.barcode("cell-7")) == chained
