"""The Series 2400 emulator as any VISA client sees it: plain pyvisa, no cyclerctl driver."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import pyvisa
from pyvisa.resources import MessageBasedResource

from cyclerctl.drivers.registry import driver
from cyclerctl.drivers.scpi import start_emulator
from cyclerctl.drivers.scpi.emulator import ScpiEmulator
from cyclerctl.drivers.scpi.keithley import STATUS_COMPLIANCE, parse_readings
from cyclerctl.drivers.scpi.parser import Pattern, units
from cyclerctl.drivers.sim.dummy import dummy_cell
from cyclerctl.protocol import load_cell

NO_ERROR = '0,"No error"'


@pytest.fixture
def emulator() -> Iterator[ScpiEmulator]:
    with start_emulator([load_cell("ncm622-coin")], "127.0.0.1", 0, {"virtual_time": True}) as emu:
        yield emu


@pytest.fixture
def client(emulator: ScpiEmulator) -> Iterator[MessageBasedResource]:
    rm = pyvisa.ResourceManager("@py")
    resource = rm.open_resource(
        emulator.address, read_termination="\n", write_termination="\n", timeout=2000
    )
    assert isinstance(resource, MessageBasedResource)
    try:
        yield resource
    finally:
        resource.close()
        rm.close()


def test_a_plain_pyvisa_client_gets_the_documented_idn() -> None:
    """THE must-show: pyvisa-py, the emulator's address, *IDN? — nothing of ours in between."""
    cell = load_cell("ncm622-coin")
    emulator = driver("scpi").start_emulator([cell], "127.0.0.1", 0, {"virtual_time": True})
    try:
        assert emulator.address.startswith("TCPIP::127.0.0.1::")
        assert emulator.address.endswith("::SOCKET")
        answer = (
            pyvisa.ResourceManager("@py")
            .open_resource(emulator.address, read_termination="\n", write_termination="\n")
            .query("*IDN?")  # type: ignore[attr-defined]
        )
    finally:
        emulator.close()
    # KEITHLEY INSTRUMENTS INC.,MODEL nnnn,xxxxxxx,yyyyy/zzzzz /a/d (2400S-900-01 §16)
    vendor, model, serial, firmware = answer.split(",")
    assert vendor == "KEITHLEY INSTRUMENTS INC."
    assert model == "MODEL 2400"
    assert serial == "EMU0001"  # says it is emulated
    assert firmware.count("/") == 3


def test_errors_queue_up_and_are_read_in_order(client: MessageBasedResource) -> None:
    assert client.query(":SYST:ERR?") == NO_ERROR
    client.write(":SOUR:CURR:BOGUS 1")
    client.write(":SOUR:CURR:LEV 5")  # beyond the 2400's ±1.05 A
    client.write(":SOUR:CURR:LEV 1E-3")
    assert client.query(":SYST:ERR?") == '-113,"Undefined header"'
    assert client.query(":SYST:ERR?") == '-222,"Parameter data out of range"'
    assert client.query(":SYST:ERR?") == NO_ERROR
    assert float(client.query(":SOUR:CURR?")) == 1e-3  # the refused value changed nothing
    for _ in range(12):
        client.write(":NOT:A:COMMAND")
    errors = [client.query(":SYST:ERR?") for _ in range(11)]
    assert errors[:9] == ['-113,"Undefined header"'] * 9
    assert errors[9] == '-350,"Queue overflow"' and errors[10] == NO_ERROR
    client.write(":NOT:A:COMMAND")
    client.write("*CLS")
    assert client.query(":SYST:ERR?") == NO_ERROR


def test_headers_are_read_as_scpi_not_as_strings(client: MessageBasedResource) -> None:
    client.write(":source1:current:level:immediate:amplitude 2.5e-4")
    assert float(client.query(":SOURce:CURRent?")) == 2.5e-4
    client.write(":CURR 3E-4")  # SOURce is optional
    assert float(client.query(":sour:curr:lev?")) == 3e-4
    # several units in one message; a unit without a colon stays in the subsystem
    assert client.query(":SOUR:FUNC CURR;CURR 4E-4;:SOUR:FUNC?;CURR?") == "CURR;+4.000000E-04"
    assert client.query("*IDN?;:SYST:ERR?").endswith(";" + NO_ERROR)
    assert client.query(":SENS:VOLT:PROT?") == "+2.100000E+01"
    assert client.query(":SYST:ERR?") == NO_ERROR


def test_read_with_the_output_off_is_refused_without_an_answer(
    client: MessageBasedResource,
) -> None:
    client.timeout = 300
    with pytest.raises(pyvisa.errors.VisaIOError):
        client.query(":READ?")
    assert client.query(":SYST:ERR?") == '803,"Not permitted with OUTPUT off"'


def test_a_burst_reads_ten_points_one_second_apart_in_virtual_time(
    client: MessageBasedResource,
) -> None:
    for command in (
        ":FORM:ELEM VOLT,CURR,TIME,STAT", ":TRIG:COUN 10", ":SENS:FUNC:ON \"VOLT\",\"CURR\"",
        ":SOUR:FUNC CURR", ":SOUR:CURR:LEV 0", ":SYST:TIME:RES", ":OUTP ON",
    ):
        client.write(command)
    rows = parse_readings(client.query(":READ?"))
    assert rows.shape == (10, 4)
    assert rows[:, 2].tolist() == [float(k) for k in range(10)]  # TIME: 0 … 9 s
    assert np.all(rows[:, 1] == 0.0) and np.all((rows[:, 0] > 2.5) & (rows[:, 0] < 4.5))
    nxt = parse_readings(client.query(":READ?"))
    assert nxt[0, 2] == 10.0  # the cell lives on from where the burst left it
    assert client.query(":SYST:ERR?") == NO_ERROR


def test_the_current_source_meets_its_voltage_compliance(client: MessageBasedResource) -> None:
    client.write(":FORM:ELEM VOLT,CURR,TIME,STAT;:TRIG:COUN 10;:SENS:FUNC:ON \"VOLT\",\"CURR\"")
    client.write(":SOUR:FUNC CURR;:SOUR:CURR:LEV 0;:OUTP ON")
    ocv = float(parse_readings(client.query(":READ?"))[-1, 0])
    limit = ocv + 0.1
    client.write(f":SENS:VOLT:PROT {limit:.4f};:SOUR:CURR:LEV 1E-3")  # 5C into a coin cell
    rows = np.concatenate([parse_readings(client.query(":READ?")) for _ in range(60)])
    status = rows[:, 3].astype(np.int64)
    assert (status & STATUS_COMPLIANCE).any()  # it got there …
    assert rows[:, 0].max() < limit + 0.002  # … and never past it (noise 0.2 mV)
    assert rows[-1, 1] < 0.9e-3  # held at the limit, the current falls away
    assert client.query(":SYST:ERR?") == NO_ERROR


def test_the_voltage_source_meets_its_current_compliance(client: MessageBasedResource) -> None:
    client.write(":FORM:ELEM VOLT,CURR,TIME,STAT;:TRIG:COUN 10;:SENS:FUNC:ON \"VOLT\",\"CURR\"")
    client.write(":SENS:CURR:PROT 1E-4;:SOUR:VOLT:LEV 4.2;:SOUR:FUNC VOLT;:OUTP ON")
    rows = parse_readings(client.query(":READ?"))
    assert np.all(np.abs(rows[:, 1]) < 1e-4 + 1e-8)  # far below 4.2 V: current-limited
    assert np.all(rows[:, 0] < 4.2)
    assert np.all(rows[:, 3].astype(np.int64) & STATUS_COMPLIANCE)
    client.write(":OUTP OFF")
    assert client.query(":OUTP?") == "0"


def test_one_cell_per_emulated_sourcemeter() -> None:
    cell = load_cell("ncm622-coin")
    with pytest.raises(ValueError, match="one channel"):
        start_emulator([cell, cell], "127.0.0.1", 0, {})


def test_header_patterns() -> None:
    pattern = Pattern("[:SOURce[1]]:CURRent[:LEVel][:IMMediate][:AMPLitude]")
    for spelling in ("SOUR:CURR", "SOURCE1:CURR:LEV", "CURR", "CURRENT:LEVEL:IMM:AMPL"):
        (unit,) = units(":" + spelling + " 1")
        assert pattern.matches(unit.path), spelling
    for spelling in ("SOUR2:CURR", "SOU:CURR", "SOUR:CURR:PROT", "SOUR:LEV"):
        (unit,) = units(":" + spelling + " 1")
        assert not pattern.matches(unit.path), spelling
    (first, second) = units(':SENS:FUNC:ON "VOLT","CURR";:FORM:ELEM VOLT,CURR')
    assert first.parameters == ('"VOLT"', '"CURR"') and second.parameters == ("VOLT", "CURR")


def _plain_client(emulator: ScpiEmulator) -> MessageBasedResource:
    resource = pyvisa.ResourceManager("@py").open_resource(
        emulator.address, read_termination="\n", write_termination="\n", timeout=2000
    )
    assert isinstance(resource, MessageBasedResource)
    return resource


def test_the_timestamp_starts_over_after_99_999_999_seconds() -> None:
    """2400S-900-01 :FORMat:ELEMents TIME: a relative timer from :SYST:TIME:RES that starts
    over at 0 after 99 999.999 s (the wording of the 6430/2500 manuals' same entry)."""
    options = {"virtual_time": True, "sample_interval_s": 500.0}
    with ScpiEmulator([dummy_cell(1000.0)], options=options) as emulator:
        client = _plain_client(emulator)
        try:
            client.write(":FORM:ELEM TIME;:TRIG:COUN 10;:SOUR:FUNC CURR;:SOUR:CURR:LEV 0")
            client.write(":SYST:TIME:RES;:OUTP ON")
            stamps = np.concatenate(
                [parse_readings(client.query(":READ?"), ("TIME",))[:, 0] for _ in range(22)]
            )
            assert float(client.query(":SYST:TIME?")) < 100_000.0
            client.write(":SYST:TIME:RES")
            after_reset = parse_readings(client.query(":READ?"), ("TIME",))[:, 0]
        finally:
            client.close()
    # readings every 500 s of cell time: … 99 000, 99 500, then 0 again, not 100 000
    assert stamps.tolist() == [(500.0 * k) % 100_000.0 for k in range(220)]
    assert stamps[199:202].tolist() == [99_500.0, 0.0, 500.0]
    assert after_reset.tolist() == [500.0 * k for k in range(10)]  # from 0 again


def test_a_dummy_load_answers_by_ohms_law() -> None:
    """Commissioning: a 1 kΩ resistor on the terminals instead of a cell."""
    with ScpiEmulator([dummy_cell(1000.0)], options={"virtual_time": True}) as emulator:
        client = _plain_client(emulator)
        try:
            client.write(':FORM:ELEM VOLT,CURR,TIME,STAT;:TRIG:COUN 10;:SENS:FUNC:ON "VOLT","CURR"')
            client.write(":SOUR:FUNC CURR;:SOUR:CURR:LEV 0;:SENS:VOLT:PROT 1;:OUTP ON")
            at_rest = parse_readings(client.query(":READ?"))
            client.write(":SOUR:CURR:LEV 5E-4")  # applies from the next burst on
            sourcing_current = parse_readings(client.query(":READ?"))
            client.write(":SENS:CURR:PROT 1E-2;:SOUR:VOLT:LEV -0.2;:SOUR:FUNC VOLT")
            sourcing_voltage = parse_readings(client.query(":READ?"))
            assert client.query(":SYST:ERR?") == NO_ERROR
        finally:
            client.close()
    assert np.all(np.abs(at_rest[:, 0]) < 1e-4)  # a resistor has no OCV: not a cell
    assert sourcing_current[:, 1] == pytest.approx(5e-4, abs=1e-8)
    assert sourcing_current[:, 0] == pytest.approx(0.5, abs=1e-4)  # V = I·R
    assert sourcing_voltage[-5:, 0] == pytest.approx(-0.2, abs=1e-4)
    assert sourcing_voltage[-5:, 1] == pytest.approx(-2e-4, abs=1e-8)  # I = V/R


def test_a_miscaled_emulator_reports_milliamps() -> None:
    """The deliberately broken instrument a commissioning check must catch: CURRent in mA."""
    options = {"virtual_time": True, "miscale": "current_mA"}
    with start_emulator([dummy_cell(1000.0)], "127.0.0.1", 0, options) as emulator:
        client = _plain_client(emulator)
        try:
            client.write(':FORM:ELEM VOLT,CURR;:TRIG:COUN 10;:SENS:FUNC:ON "VOLT","CURR"')
            client.write(":SOUR:FUNC CURR;:SOUR:CURR:LEV 5E-4;:SENS:VOLT:PROT 1;:OUTP ON")
            rows = parse_readings(client.query(":READ?"), ("VOLT", "CURR"))
        finally:
            client.close()
    assert rows[:, 0] == pytest.approx(0.5, abs=1e-4)  # the voltage is right …
    assert rows[:, 1] == pytest.approx(0.5, abs=1e-5)  # … the current reads 1000× too big
    with pytest.raises(ValueError, match="miscale"):
        ScpiEmulator([dummy_cell(1000.0)], options={"miscale": "phase_deg"})
    with pytest.raises(ValueError, match="one channel"):
        ScpiEmulator([], options={})  # no cell, not even a dummy load
