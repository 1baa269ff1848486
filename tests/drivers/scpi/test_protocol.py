"""The exact bytes the SourceMeter driver exchanges with the instrument, over pyvisa-py.

Each test plays the instrument's side from a script (``scripted.ScriptedPeer``) and fails on
a line that differs, a line never sent, or a line too many.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import pyvisa

from cyclerctl.drivers.base import StepProgress
from cyclerctl.drivers.scpi.driver import SourceMeterChannel, SourceMeterInstrument
from cyclerctl.drivers.scpi.keithley import InstrumentError, parse_idn, parse_readings
from cyclerctl.plan import EndCondition, Step

from .scripted import IDN_2400, NO_ERROR, Exchange, ScriptedPeer, configured, connect_script

I_SOURCE = 4 | 2048 | 4096 | 32768  # front terminals, V and I measured, I source
V_SOURCE = 4 | 2048 | 4096 | 16384
IN_COMPLIANCE = 8


def reading(V: float, current: float, t: float, status: int = I_SOURCE) -> str:
    return f"{V:+.6E},{current:+.6E},{t:+.6E},{float(status):+.6E}"


@contextmanager
def session(
    script: list[Exchange], **options: Any
) -> Iterator[tuple[SourceMeterInstrument, SourceMeterChannel]]:
    """The driver connected to a scripted peer; closed (and the script verified) after."""
    n = int(options.get("points_per_read", 1))
    with ScriptedPeer(connect_script(n) + script) as peer:
        instrument = SourceMeterInstrument(peer.address, timeout_ms=3000, options=options)
        instrument.connect()
        try:
            yield instrument, instrument.channels[0]
        finally:
            instrument.close()


def test_connect_identifies_and_configures_the_instrument() -> None:
    with session([]) as (instrument, channel):
        identity = instrument.identity
        assert identity.driver == "scpi"
        assert identity.vendor == "KEITHLEY INSTRUMENTS INC."
        assert identity.model == "2400"
        assert identity.serial == "1234567"
        assert identity.firmware == "C30   Mar 17 2006 09:29:29/A02  /K/J"
        caps = channel.capabilities
        assert channel.name == "smu:1"
        assert caps.native_end_conditions == frozenset()  # host-sequenced: ends nothing itself
        assert caps.step_kinds == {"rest", "cc", "cv", "cccv"}
        assert caps.voltage_range_V == (-210.0, 210.0) and caps.current_max_A == 1.05
        assert not caps.eis and not caps.virtual_time


def test_virtual_time_reads_bursts_of_ten() -> None:
    with session([], virtual_time=True, points_per_read=10) as (_, channel):
        assert channel.capabilities.virtual_time


def test_cc_step_sources_current_reads_and_integrates_charge() -> None:
    step = Step(2, "discharge", "cc", ends=(EndCondition("voltage_below", 3.0),), current_A=-5e-4)
    script = [
        *configured(
            ":SENS:VOLT:PROT 4.4", ":SOUR:CURR:LEV -0.0005", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(4.0, -5e-4, 0.0)),
        (":READ?", reading(3.9, -5e-4, 2.0)),
        *configured(":OUTP OFF"),
    ]
    with session(script, voltage_limit_V=4.4) as (_, channel):
        channel.start_step(step)
        first = channel.read()
        second = channel.read()
        channel.stop()
        after = channel.read()  # output off: nothing to ask the instrument
    assert not first.ended and not second.ended and after.ended
    points = np.concatenate([first.points, second.points])
    assert points["t"].tolist() == [0.0, 2.0]
    assert points["V"].tolist() == [4.0, 3.9]
    assert points["Q"].tolist() == pytest.approx([0.0, -1e-3])
    assert np.isnan(points["T"]).all()  # a SourceMeter measures no temperature


def test_rest_is_zero_amps_and_cv_limits_current() -> None:
    rest = Step(1, "rest", "rest", ends=(EndCondition("time", 600.0),))
    hold = Step(3, "hold", "cv", ends=(EndCondition("current_below", 1e-5),), voltage_V=4.2)
    script = [
        *configured(
            ":SENS:VOLT:PROT 21", ":SOUR:CURR:LEV 0", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        *configured(":OUTP OFF"),
        *configured(
            ":SENS:CURR:PROT 0.01", ":SOUR:VOLT:LEV 4.2", ":SOUR:FUNC VOLT",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        *configured(":OUTP OFF"),  # close() leaves the cell at open circuit
    ]
    with session(script, current_limit_A=0.01) as (_, channel):
        channel.start_step(rest)
        channel.stop()
        channel.start_step(hold)


def test_cccv_switches_to_a_voltage_source_when_the_set_point_is_reached() -> None:
    step = Step(
        0, "charge", "cccv", ends=(EndCondition("current_below", 1e-5),),
        current_A=2e-4, voltage_V=4.3,
    )
    script = [
        # the CC phase's compliance is the CV voltage: the instrument never passes it
        *configured(
            ":SENS:VOLT:PROT 4.3", ":SOUR:CURR:LEV 0.0002", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(4.25, 2e-4, 0.0) + "," + reading(4.29, 2e-4, 1.0)),
        (":READ?", reading(4.2999, 1.9e-4, 2.0, I_SOURCE | IN_COMPLIANCE) + ","
         + reading(4.3, 1.8e-4, 3.0, I_SOURCE | IN_COMPLIANCE)),
        *configured(":SENS:CURR:PROT 0.0002", ":SOUR:VOLT:LEV 4.3", ":SOUR:FUNC VOLT"),
        (":READ?", reading(4.3, 1.7e-4, 4.0, V_SOURCE) + "," + reading(4.3, 1.6e-4, 5.0, V_SOURCE)),
        *configured(":OUTP OFF"),
    ]
    with session(script, voltage_limit_V=4.4, points_per_read=2) as (_, channel):
        channel.start_step(step)
        channel.read()
        assert channel.cv_switch_s is None
        channel.read()
        assert channel.cv_switch_s == 2.0  # the first reading in compliance
        channel.read()  # in CV: no second switch
        channel.stop()


def test_a_discharging_cccv_switches_when_v_falls_to_the_set_point() -> None:
    step = Step(0, "discharge", "cccv", current_A=-2e-4, voltage_V=3.0)
    script = [
        # discharging: V falls, so the compliance stays at the window's edge
        *configured(
            ":SENS:VOLT:PROT 4.4", ":SOUR:CURR:LEV -0.0002", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(3.2, -2e-4, 0.0)),
        (":READ?", reading(2.9995, -2e-4, 1.0)),
        *configured(":SENS:CURR:PROT 0.0002", ":SOUR:VOLT:LEV 3", ":SOUR:FUNC VOLT"),
        *configured(":OUTP OFF"),
    ]
    with session(script, voltage_limit_V=4.4) as (_, channel):
        channel.start_step(step)
        channel.read()
        channel.read()
        assert channel.cv_switch_s == 1.0


def test_a_resumed_step_continues_its_time_and_charge_and_drops_stale_readings() -> None:
    step = Step(0, "charge", "cc", current_A=1e-3)
    script = [
        *configured(
            ":SENS:VOLT:PROT 4.4", ":SOUR:CURR:LEV 0.001", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(3.8, 1e-3, 0.5)),
        (":READ?", reading(3.8, 1e-3, 0.5)),  # the same reading again: not a new point
        (":READ?", reading(3.81, 1e-3, 1.5)),
        *configured(":OUTP OFF"),
    ]
    with session(script, voltage_limit_V=4.4) as (_, channel):
        channel.start_step(step, StepProgress(elapsed_s=100.0, charge_C=0.25))
        blocks = [channel.read().points for _ in range(3)]
    assert [len(b) for b in blocks] == [1, 0, 1]
    points = np.concatenate(blocks)
    assert points["t"].tolist() == [100.5, 101.5]
    # 0.5 s from the restart to the first reading, then 1 s between readings, at 1 mA
    assert points["Q"].tolist() == pytest.approx([0.25 + 0.5e-3, 0.25 + 1.5e-3])


def test_a_refused_command_raises_with_instrument_command_and_error_text() -> None:
    step = Step(0, "too much", "cc", current_A=2.0)
    script = [
        *configured(":SENS:VOLT:PROT 21"),
        (":SOUR:CURR:LEV 2", None),
        (":SYST:ERR?", '-222,"Parameter data out of range"'),
        (":SYST:ERR?", NO_ERROR),
    ]
    with session(script) as (_, channel), pytest.raises(InstrumentError) as raised:
        channel.start_step(step)
    message = str(raised.value)
    assert "MODEL 2400" in message and "#1234567" in message
    assert "':SOUR:CURR:LEV 2'" in message
    assert '-222,"Parameter data out of range"' in message
    assert raised.value.errors == ['-222,"Parameter data out of range"']


def test_a_step_refused_half_way_still_leaves_the_output_off() -> None:
    """The step before left the output on; the next one fails while being set up: stop()
    (the engine calls it on any fault) must still switch the output off."""
    script = [
        *configured(
            ":SENS:VOLT:PROT 21", ":SOUR:CURR:LEV 0.001", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        *configured(":SENS:VOLT:PROT 21"),
        (":SOUR:CURR:LEV 2", None),
        (":SYST:ERR?", '-222,"Parameter data out of range"'),
        (":SYST:ERR?", NO_ERROR),
        *configured(":OUTP OFF"),
    ]
    with session(script) as (_, channel):
        channel.start_step(Step(0, "charge", "cc", current_A=1e-3))
        with pytest.raises(InstrumentError):
            channel.start_step(Step(1, "too much", "cc", current_A=2.0))
        channel.stop()
        channel.stop()  # known to be off now: nothing more is sent


def test_a_read_that_gets_no_answer_reports_the_instruments_error() -> None:
    step = Step(0, "rest", "rest")
    script = [
        *configured(
            ":SENS:VOLT:PROT 21", ":SOUR:CURR:LEV 0", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", None),  # the instrument refuses and says nothing
        (":SYST:ERR?", '803,"Not permitted with OUTPUT off"'),
        (":SYST:ERR?", NO_ERROR),
        *configured(":OUTP OFF"),
    ]
    with ScriptedPeer(connect_script() + script) as peer:
        instrument = SourceMeterInstrument(peer.address, timeout_ms=300)
        instrument.connect()
        try:
            channel = instrument.channels[0]
            channel.start_step(step)
            with pytest.raises(InstrumentError, match="803"):
                channel.read()
        finally:
            instrument.close()


def test_the_peer_fails_the_test_on_leftovers_and_extras() -> None:
    """The harness itself: an unsent expected line, or one line too many, is a failure."""
    leftover = ScriptedPeer([*connect_script(), (":OUTP OFF", None)])
    instrument = SourceMeterInstrument(leftover.address, timeout_ms=3000)
    instrument.connect()
    instrument.close()
    with pytest.raises(AssertionError, match="never sent"):
        leftover.verify()
    extra = ScriptedPeer(connect_script()[:-2])  # the script stops before :TRIG:COUN
    instrument = SourceMeterInstrument(extra.address, timeout_ms=300)
    with pytest.raises(pyvisa.errors.VisaIOError):  # no answer to the unexpected line
        instrument.connect()
    with pytest.raises(AssertionError, match="unexpected line"):
        extra.verify()


def test_parsing_what_the_instrument_sends() -> None:
    idn = parse_idn(IDN_2400)
    assert (idn.vendor, idn.model, idn.serial) == ("KEITHLEY INSTRUMENTS INC.", "2400", "1234567")
    assert parse_idn("KEITHLEY INSTRUMENTS INC.,MODEL 2450,04512345,1.7.12b").model == "2450"
    with pytest.raises(ValueError, match="IDN"):
        parse_idn("RIGOL TECHNOLOGIES,DP832")
    rows = parse_readings("+1.0E+00,+9.91E+37,+3.0E+00,+4.0E+00")
    assert rows.shape == (1, 4) and math.isnan(rows[0, 1])  # "not measured" is NaN
    with pytest.raises(ValueError, match="multiple"):
        parse_readings("+1.0E+00,+2.0E+00,+3.0E+00")


def test_step_time_runs_on_across_the_timestamps_wrap_and_restarts_with_the_reset() -> None:
    """The TIME element starts over after 99 999.999 s; the step time must not. A step
    started afterwards resets the timer (:SYST:TIME:RES) and counts from 0 again."""
    charge = Step(0, "slow charge", "cc", current_A=1e-5)
    script = [
        *configured(
            ":SENS:VOLT:PROT 4.4", ":SOUR:CURR:LEV 1e-05", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(4.0, 1e-5, 99_998.0) + "," + reading(4.0, 1e-5, 99_999.0)),
        (":READ?", reading(4.0, 1e-5, 0.0) + "," + reading(4.01, 1e-5, 1.0)),  # wrapped
        (":READ?", reading(4.01, 1e-5, 1.0) + "," + reading(4.02, 1e-5, 2.0)),  # 1 s again
        *configured(":OUTP OFF"),
        *configured(
            ":SENS:VOLT:PROT 4.4", ":SOUR:CURR:LEV 0", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(4.0, 0.0, 0.5) + "," + reading(4.0, 0.0, 1.5)),
        *configured(":OUTP OFF"),
    ]
    with session(script, voltage_limit_V=4.4, points_per_read=2) as (_, channel):
        channel.start_step(charge)
        blocks = [channel.read().points for _ in range(3)]
        channel.stop()
        channel.start_step(Step(1, "rest", "rest"))
        rest = channel.read().points
    points = np.concatenate(blocks)
    assert points["t"].tolist() == [99_998.0, 99_999.0, 100_000.0, 100_001.0, 100_002.0]
    assert points["Q"][-1] == pytest.approx(1e-5 * 100_002.0)  # the charge of 27.8 h
    assert rest["t"].tolist() == [0.5, 1.5]  # not 100 000.5: the reset started it over


def test_a_timestamp_scale_corrects_the_instruments_time_base() -> None:
    """``timestamp_scale``: a timer that commissioning finds 2.4 % fast (1024 ticks counted
    as 1.024 s, Keithley's 1999 timestamp note) is corrected on the host."""
    script = [
        *configured(
            ":SENS:VOLT:PROT 21", ":SOUR:CURR:LEV 0", ":SOUR:FUNC CURR",
            ":SYST:TIME:RES", ":OUTP ON",
        ),
        (":READ?", reading(3.0, 0.0, 1.024)),
        *configured(":OUTP OFF"),
    ]
    with session(script, timestamp_scale=1000 / 1024) as (_, channel):
        channel.start_step(Step(0, "rest", "rest"))
        points = channel.read().points
    assert points["t"].tolist() == pytest.approx([1.0])
