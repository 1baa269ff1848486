"""The emulator as a BTS: its framing, its channel flags, a dummy load, a mis-scaled
current; and what the driver does with them (CV limits, a CC-CV's parts, folder notes)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.drivers.base import Samples
from cyclerctl.drivers.neware import (
    NewareChannel,
    NewareEmulator,
    messages,
    open_instrument,
    probe_lines,
)
from cyclerctl.drivers.neware.driver import ChannelSettings, stepfile_notes
from cyclerctl.drivers.neware.stepfile import parse_stepfile
from cyclerctl.plan import EndCondition, RecordCriteria, Step
from cyclerctl.protocol import load_plan

CELL = load_plan("ncm622-cycling", "ncm622-coin").cell
EVERY_10_S = RecordCriteria(every_s=10.0)


def run_to_end(channel: NewareChannel) -> Samples:
    blocks = []
    while True:
        samples = channel.read()
        blocks.append(samples.points)
        if samples.ended:
            return Samples(np.concatenate(blocks), ended=True, end_reason=samples.end_reason)


def cc(current_A: float, *ends: EndCondition, index: int = 0) -> Step:
    return Step(index, "cc", "cc", ends=ends, record=EVERY_10_S, current_A=current_A)


@pytest.fixture
def resistor() -> Iterator[NewareEmulator]:
    emulator = NewareEmulator([], dummy_load_ohm=1000.0, dummy_channels=2)
    yield emulator
    emulator.close()


def _exchange(emulator: NewareEmulator, data: bytes, timeout_s: float) -> bytes:
    with socket.create_connection((emulator.host, emulator.port), timeout=timeout_s) as sock:
        sock.sendall(data)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_the_emulator_answers_only_a_request_ended_by_the_blank_line(
    resistor: NewareEmulator,
) -> None:
    document = messages.getdevinfo_request().encode()
    answer = _exchange(resistor, document + b"\n\n#\r\n", timeout_s=5.0)
    assert answer.endswith(b"</bts>\n\n#\r\n") and b"getdevinfo_resp" in answer
    # the old framing: a server waiting for the blank line never answers it
    assert _exchange(resistor, document + b"#\r\n", timeout_s=0.3) == b""
    resistor.close()  # the connection's leftover bytes are on record
    assert resistor.unframed == [document + b"#\r\n"]


def test_a_resistor_obeys_ohms_law_through_the_driver(resistor: NewareEmulator) -> None:
    instrument = open_instrument(resistor.address, {"virtual_time": True})
    try:
        channel = instrument.channels[0]
        channel.start_step(cc(0.001, EndCondition("time", 60.0)))
        charge = run_to_end(channel)
        assert charge.end_reason == "time"
        assert charge.points["V"] == pytest.approx(1.0)  # 1 mA × 1 kΩ
        assert charge.points["I"] == pytest.approx(0.001)
        assert charge.points["Q"][-1] == pytest.approx(0.06)
        channel.start_step(cc(-0.002, EndCondition("time", 30.0)))
        assert run_to_end(channel).points["V"] == pytest.approx(-2.0)
        # a CV hold after it is limited to the CC's 2 mA: 3 V / 1 kΩ would be 3 mA
        hold = Step(2, "hold", "cv", ends=(EndCondition("time", 30.0),), record=EVERY_10_S,
                    voltage_V=3.0)  # fmt: skip
        channel.start_step(hold)
        held = run_to_end(channel)
        assert held.points["I"] == pytest.approx(0.002) and held.points["V"] == pytest.approx(2.0)
        rest = Step(3, "rest", "rest", ends=(EndCondition("time", 20.0),), record=EVERY_10_S)
        channel.start_step(rest)
        assert run_to_end(channel).points["V"] == pytest.approx(0.0)
    finally:
        instrument.close()


def test_a_current_mis_scaled_to_mA_breaks_ohms_law_by_a_thousand() -> None:
    emulator = NewareEmulator([], dummy_load_ohm=1000.0, miscale="current_mA")
    instrument = open_instrument(emulator.address, {"virtual_time": True})
    try:
        channel = instrument.channels[0]
        channel.start_step(cc(0.001, EndCondition("time", 30.0)))
        points = run_to_end(channel).points
        assert points["I"] == pytest.approx(1.0)  # reported "1" where BTS reports 0.001 A
        assert (points["V"] / points["I"]) == pytest.approx(1.0)  # R would read 1 Ω
    finally:
        instrument.close()
        emulator.close()
    with pytest.raises(ValueError, match="miscale"):
        NewareEmulator([], dummy_load_ohm=1.0, miscale="voltage_mV")


def test_a_working_or_disabled_channel_is_marked_false_and_not_offered() -> None:
    emulator = NewareEmulator([CELL, CELL, CELL], disabled_channels=["1-1-3"])
    first = open_instrument(emulator.address, {"virtual_time": True, "barcode": "x"})
    second = None
    try:
        first.channels[0].start_step(cc(0.0001, EndCondition("time", 600.0)))
        assert [c.address.key for c in first.channels] == ["1-1-1", "1-1-2"]
        # another client: 1-1-1 runs a test of this driver (tagged), so it is offered
        # (a crashed daemon's successor must take it over); 1-1-3 is disabled
        second = open_instrument(emulator.address, {"virtual_time": True})
        assert [c.address.key for c in second.channels] == ["1-1-1", "1-1-2"]
        assert "state finish" in second.unavailable["1-1-3"]
        lines = probe_lines(second)
        assert lines[0].startswith("not offered: neware:1-1-3: marked false by getdevinfo")
        assert any(line.startswith("unconfirmed: ") for line in lines)
    finally:
        first.close()
        if second is not None:
            second.close()
        emulator.close()


def test_a_cccv_runs_as_cc_then_cv_and_the_driver_joins_them(tmp_path: Path) -> None:
    emulator = NewareEmulator([CELL])
    instrument = open_instrument(
        emulator.address, {"virtual_time": True, "stepfile_dir": str(tmp_path)}
    )
    try:
        channel = instrument.channels[0]
        step = Step(0, "charge", "cccv", ends=(EndCondition("current_below", 2e-5),
                    EndCondition("time", 54000.0)), record=EVERY_10_S, current_A=2e-4,
                    voltage_V=4.3)  # fmt: skip
        channel.start_step(step)
        (path,) = tmp_path.glob("*.xml")
        assert [p.step_type for p in parse_stepfile(path.read_bytes()).parts] == [1, 3]
        got = run_to_end(channel)
        records = emulator.channels[(1, 1, 1)].records
        assert {r.steptype for r in records} == {"cc", "cv"}
        assert {r.stepid for r in records} == {1, 2}
        assert got.end_reason == "limit:current"
        t, Q = got.points["t"], got.points["Q"]
        assert np.all(np.diff(t) > 0) and np.all(np.diff(Q) >= -1e-12)  # one step, joined
        switch = next(r for r in records if r.stepid == 2)
        assert switch.testtime_ms == 0  # BTS counts the CV part from 0
        assert t[-1] > max(r.testtime_ms for r in records) / 1000  # the driver adds the CC's
    finally:
        instrument.close()
        emulator.close()


def test_a_cccv_time_limit_spans_both_parts() -> None:
    """BTS holds each part to the time from its own 0, and goes on to the CV part when the
    CC part ends on time; the driver ends the test when the whole step has run its time
    and keeps nothing after it."""
    emulator = NewareEmulator([], dummy_load_ohm=1000.0)
    instrument = open_instrument(emulator.address, {"virtual_time": True})
    try:
        channel = instrument.channels[0]
        # 1 mA into 1 kΩ is 1 V: the CC part never reaches 2 V and ends on its time
        step = Step(0, "charge", "cccv", ends=(EndCondition("current_below", 1e-6),
                    EndCondition("time", 100.0)), record=EVERY_10_S, current_A=1e-3,
                    voltage_V=2.0)  # fmt: skip
        channel.start_step(step)
        got = run_to_end(channel)
        assert got.end_reason == "time"
        assert got.points["t"][-1] == pytest.approx(100.0)
        assert np.all(got.points["t"] <= 100.0)
        assert {r.stepid for r in emulator.channels[(1, 1, 1)].records} == {1, 2}
    finally:
        instrument.close()
        emulator.close()


def test_the_step_file_folder_notes_say_what_cannot_be_checked(tmp_path: Path) -> None:
    local = stepfile_notes("127.0.0.1", ChannelSettings(stepfile_dir=tmp_path), False)
    assert len(local) == 1 and "cannot show" in local[0]
    private = stepfile_notes("10.0.0.5", ChannelSettings(stepfile_dir=tmp_path), True)
    assert "private temporary folder" in private[1]
    unnamed = stepfile_notes("10.0.0.5", ChannelSettings(stepfile_dir=tmp_path), False)
    assert "bts_stepfile_dir is not set" in unnamed[1]
    named = ChannelSettings(stepfile_dir=tmp_path, bts_stepfile_dir="D:\\steps")
    shared = stepfile_notes("10.0.0.5", named, False)
    assert len(shared) == 1 and re.search(r"sent D:\\steps\\<file>\.xml", shared[0])


def test_a_cv_hold_with_no_cc_before_it_takes_the_option_else_the_maximum_and_says_so(
    resistor: NewareEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    hold = Step(0, "hold", "cv", ends=(EndCondition("time", 20.0),), record=EVERY_10_S,
                voltage_V=3.0)  # fmt: skip
    limited = open_instrument(
        resistor.address, {"virtual_time": True, "cv_current_limit_A": 0.0005}
    )
    try:
        limited.channels[0].start_step(hold)
        assert run_to_end(limited.channels[0]).points["I"] == pytest.approx(0.0005)
    finally:
        limited.close()
    bare = open_instrument(resistor.address, {"virtual_time": True})
    try:
        bare.channels[1].start_step(hold)
        assert run_to_end(bare.channels[1]).points["I"] == pytest.approx(0.003)  # 3 V / 1 kΩ
    finally:
        bare.close()
    assert "limited to the channel maximum" in caplog.text
