"""The driver against the emulated controller over a real pseudo-terminal, through pyserial."""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Iterator

import pytest
import serial

from cyclerctl.drivers.chamber import (
    ChamberEmulator,
    ChamberError,
    ChamberRefused,
    ChamberTimeout,
    SerialChamber,
    open_chamber,
    start_emulator,
)
from cyclerctl.drivers.registry import driver
from cyclerctl.drivers.sim.chamber import SimChamber
from cyclerctl.plan import CellSummary

TIMEOUT_S = 0.3


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[ChamberEmulator]:
    with ChamberEmulator(SimChamber(clock=clock, noise_K=0.0, time_constant_s=600.0)) as em:
        yield em


@pytest.fixture
def chamber(emulator: ChamberEmulator) -> Iterator[SerialChamber]:
    device = SerialChamber(emulator.address, timeout=TIMEOUT_S)
    yield device
    device.close()


def test_a_plain_pyserial_client_talks_to_it_on_the_tty(emulator: ChamberEmulator) -> None:
    assert os.path.exists(emulator.address)
    with serial.Serial(emulator.address, 9600, timeout=1) as port:
        port.write(b"TEMP?\r\n")
        assert port.read_until(b"\r\n") == b"25.0,25.0,150.0,-40.0\r\n"
        port.write(b"MON?\r\n")
        assert port.read_until(b"\r\n") == b"25.0,,STANDBY,0\r\n"
        port.write(b"TEMP, S60.0\r\n")
        assert port.read_until(b"\r\n") == b"OK:TEMP, S60.0\r\n"
        port.write(b"HUMI?\r\n")
        assert port.read_until(b"\r\n") == b"NA:CMD ERR\r\n"


def test_identity_set_point_and_the_first_order_approach(
    chamber: SerialChamber, emulator: ChamberEmulator, clock: Clock
) -> None:
    assert (chamber.identity.vendor, chamber.identity.model) == ("ESPEC", "SIM-CHAMBER")
    assert chamber.identity.serial == emulator.address
    idle = chamber.read()
    assert idle.setpoint_K is None and idle.temperature_K == pytest.approx(298.15)
    clock.now = 100.0
    chamber.set_temperature(333.15)
    assert emulator.mode == "CONSTANT" and emulator.chamber.setpoint_K == pytest.approx(333.15)
    seen = []
    for _ in range(5):
        clock.now += 300.0
        reading = chamber.read()
        assert reading.setpoint_K == pytest.approx(333.15)
        seen.append(reading.temperature_K)
    expected = [333.15 - 35.0 * math.exp(-300.0 * k / 600.0) for k in range(1, 6)]
    assert seen == pytest.approx(expected, abs=0.051)  # the controller shows 0.1 °C
    assert all(b > a for a, b in itertools.pairwise(seen))
    assert emulator.requests[-4:] == ["TEMP?", "MON?", "TEMP?", "MON?"]


def test_a_garbled_reply_is_retried_and_the_value_is_right(
    chamber: SerialChamber, emulator: ChamberEmulator, clock: Clock
) -> None:
    chamber.set_temperature(313.15)
    clock.now = 6000.0
    emulator.garble_next(1)
    assert chamber.read().temperature_K == pytest.approx(313.15, abs=0.05)
    emulator.garble_next(1, kind="short")
    assert chamber.read().temperature_K == pytest.approx(313.15, abs=0.05)
    emulator.garble_next(1)
    chamber.set_temperature(323.15)  # an acknowledgement garbled: the command is sent again
    assert emulator.requests[-3:] == ["TEMP, S50.0", "TEMP, S50.0", "MODE,CONSTANT"]
    assert emulator.setpoint_C == 50.0


def test_garbled_twice_is_a_clear_error(chamber: SerialChamber, emulator: ChamberEmulator) -> None:
    emulator.garble_next(2)
    with pytest.raises(ChamberError, match=rf"{emulator.address}: 'TEMP\?' failed twice"):
        chamber.read()
    assert chamber.read().temperature_K == pytest.approx(298.15)  # the line recovers


def test_silence_is_retried_once_then_a_timeout_naming_port_and_command(
    chamber: SerialChamber, emulator: ChamberEmulator
) -> None:
    emulator.silence_next(1)
    chamber.set_temperature(303.15)
    assert emulator.setpoint_C == 30.0
    emulator.silence_next(2)
    started = time.monotonic()
    with pytest.raises(ChamberTimeout) as error:
        chamber.set_temperature(313.15)
    assert time.monotonic() - started < 4 * TIMEOUT_S + 1.0
    message = str(error.value)
    assert emulator.address in message and "'TEMP, S40.0'" in message
    assert "no reply within 0.3 s" in message
    assert emulator.setpoint_C == 30.0  # lost commands have no effect


def test_a_set_point_outside_the_limits_is_refused(chamber: SerialChamber) -> None:
    with pytest.raises(ChamberRefused, match="DATA OUT OF RANGE"):
        chamber.set_temperature(273.15 + 200.0)
    status = chamber.temperature_status()
    assert (status.upper_limit_C, status.lower_limit_C) == (150.0, -40.0)


def test_rs485_unit_numbers(clock: Clock) -> None:
    with ChamberEmulator(SimChamber(clock=clock), unit=4) as emulator:
        device = SerialChamber(emulator.address, unit=4, timeout=TIMEOUT_S)
        device.set_temperature(313.15)
        assert emulator.requests[-2:] == ["4,TEMP, S40.0", "4,MODE,CONSTANT"]
        device.close()
        # a request for another unit on the bus goes unanswered
        with pytest.raises(ChamberTimeout):
            SerialChamber(emulator.address, unit=5, timeout=TIMEOUT_S)


def test_a_chamber_already_holding_a_set_point_is_in_constant_mode(clock: Clock) -> None:
    sim = SimChamber(clock=clock, noise_K=0.0)
    sim.set_temperature(333.15)
    with ChamberEmulator(sim) as emulator:
        device = SerialChamber(emulator.address, timeout=TIMEOUT_S)
        assert device.read().setpoint_K == pytest.approx(333.15)
        assert device.monitor().mode == "CONSTANT"
        device.close()


def test_the_registry_opens_and_emulates_it() -> None:
    entry = driver("chamber")
    assert entry.kind == "chamber"
    cell = CellSummary(
        name="ss",
        chemistry="SS|QSE|SS",
        area_m2=2e-4,
        nominal_capacity_Ah=None,
        active_mass_kg=None,
        specific_capacity_Ah_kg=None,
        sim={"model": "blocking", "chamber": {"time_constant": "1 s", "ambient": "20 degC"}},
    )
    emulator = entry.start_emulator([cell], "127.0.0.1", 0, {"speed": 10.0, "noise": 0})
    try:
        device = entry.open_chamber(emulator.address, {"timeout_s": TIMEOUT_S})
        assert device.read().temperature_K == pytest.approx(293.15, abs=0.05)
        device.set_temperature(303.15)
        time.sleep(1.0)  # 10 s of chamber time: ten time constants
        assert device.read().temperature_K == pytest.approx(303.15, abs=0.05)
        device.close()
    finally:
        emulator.close()


def test_start_emulator_wraps_a_given_sim_chamber(clock: Clock) -> None:
    sim = SimChamber(clock=clock, noise_K=0.0)
    emulator = start_emulator([], "", 0, {"sim_chamber": sim, "unit": 1})
    try:
        assert isinstance(emulator, ChamberEmulator) and emulator.chamber is sim
        device = open_chamber(emulator.address, {"timeout_s": TIMEOUT_S, "unit": 1})
        device.set_temperature(353.15)
        assert sim.setpoint_K == pytest.approx(353.15)
        device.close()
    finally:
        emulator.close()
    with pytest.raises(TypeError, match="SimChamber"):
        start_emulator([], "", 0, {"sim_chamber": "oven"})


def test_closing_the_emulator_makes_the_driver_time_out(clock: Clock) -> None:
    emulator = ChamberEmulator(SimChamber(clock=clock))
    device = SerialChamber(emulator.address, timeout=TIMEOUT_S)
    emulator.close()
    with pytest.raises(ChamberError, match="MON"):
        device.monitor()
    device.close()
