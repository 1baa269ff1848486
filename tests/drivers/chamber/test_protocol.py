"""The ESPEC command set byte for byte, and the driver replayed against canned replies.

Every replay test scripts the exact request bytes the driver must send and the bytes the
controller answers; a request out of script, or a script (or reply) left over, fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cyclerctl.drivers.base import Chamber
from cyclerctl.drivers.chamber import ChamberError, ChamberRefused, ChamberTimeout, SerialChamber
from cyclerctl.drivers.chamber import protocol as p

# -- encoding and parsing --------------------------------------------------------------------


def test_requests_are_ascii_lines_ending_cr_lf_with_an_optional_unit_number() -> None:
    assert p.encode("TEMP?") == b"TEMP?\r\n"
    assert p.encode("MON?", unit=3) == b"3,MON?\r\n"
    assert p.encode(p.set_temperature(60.0)) == b"TEMP, S60.0\r\n"
    assert p.encode(p.RUN_CONSTANT) == b"MODE,CONSTANT\r\n"


def test_set_points_go_in_tenths_of_a_degree() -> None:
    assert p.set_temperature(29.999999999999943) == "TEMP, S30.0"
    assert p.set_temperature(-20.04) == "TEMP, S-20.0"
    assert p.set_temperature(-0.04) == "TEMP, S0.0"
    assert p.set_temperature(85.26) == "TEMP, S85.3"
    with pytest.raises(ValueError, match="finite"):
        p.set_temperature(float("nan"))


def test_temp_query_reply_is_measured_set_point_and_limits() -> None:
    status = p.parse_temperature("23.5,25.0,90.0,-20.0")
    assert status == p.TemperatureStatus(23.5, 25.0, 90.0, -20.0)


def test_mon_reply_with_and_without_humidity() -> None:
    assert p.parse_monitor("24.1,100,CONSTANT,0") == p.Monitor(24.1, 100.0, "CONSTANT", 0)
    quiet = p.parse_monitor("24.1,,STANDBY,2")
    assert quiet == p.Monitor(24.1, None, "STANDBY", 2) and not quiet.controlling
    assert p.parse_monitor("60.0,,RUN,0").controlling


@pytest.mark.parametrize(
    ("parse", "reply"),
    [
        (p.parse_temperature, "23.5,25.0,90.0"),  # a field short
        (p.parse_temperature, "23.5,25.0,90.0,-20.0,1"),
        (p.parse_temperature, "23.5,2#.0,90.0,-20.0"),
        (p.parse_temperature, "nan,25.0,90.0,-20.0"),
        (p.parse_temperature, "24.1,,CONSTANT,0"),  # a MON? reply arriving late
        (p.parse_monitor, "24.1,,CONSTAN,0"),
        (p.parse_monitor, "24.1,,CONSTANT,x"),
        (p.parse_monitor, "23.5,25.0,90.0,-20.0"),
    ],
)
def test_misshapen_replies_are_garbled_not_values(
    parse: Callable[[str], object], reply: str
) -> None:
    with pytest.raises(p.GarbledReply):
        parse(reply)


def test_decoding_needs_the_terminator_and_printable_ascii() -> None:
    assert p.decode(b"23.5,25.0,90.0,-20.0\r\n") == "23.5,25.0,90.0,-20.0"
    with pytest.raises(p.GarbledReply, match="cut short"):
        p.decode(b"23.5,25.0")
    with pytest.raises(p.GarbledReply, match="ASCII"):
        p.decode(b"23.5,2\xa7\x00\r\n")


def test_acknowledgements_echo_the_setting_command() -> None:
    p.check_ack("OK:TEMP, S60.0", "TEMP, S60.0")
    p.check_ack("OK:TEMP,S60", "TEMP, S60.0")  # SH-641 echoes without spaces or tenths
    p.check_ack("OK: 1,TEMP, S60.0", "TEMP, S60.0")  # with the RS-485 unit number
    p.check_ack("OK:MODE,CONSTANT", "MODE,CONSTANT")
    for reply, command in (
        ("OK:TEMP, S50.0", "TEMP, S60.0"),
        ("OK:TEMP, S60.0 H90.0", "TEMP, S60.0"),
        ("TEMP, S60.0", "TEMP, S60.0"),
        ("OK:", "TEMP, S60.0"),
        ("OK:MODE,STANDBY", "MODE,CONSTANT"),
    ):
        with pytest.raises(p.GarbledReply):
            p.check_ack(reply, command)


def test_refusals_carry_the_controllers_message_and_its_meaning() -> None:
    with pytest.raises(p.Refused, match=r"DATA OUT OF RANGE \(value outside"):
        p.check_refusal("NA:DATA OUT OF RANGE")
    p.check_refusal("23.5,25.0,90.0,-20.0")


def test_rom_reply_is_model_then_version() -> None:
    assert p.parse_rom("SU-241 Ver.1.20") == p.Rom("SU-241", "Ver.1.20")
    assert p.parse_rom("P300") == p.Rom("P300", "")


# -- the driver, replayed ----------------------------------------------------------------------


class Replay:
    """A scripted serial port: each write must be the next request; its reply is then read."""

    def __init__(self, *script: tuple[bytes, bytes]) -> None:
        self.script = list(script)
        self.unread = b""
        self.closed = False

    def write(self, data: bytes, /) -> int:
        assert self.script, f"unexpected request {data!r}: the script is finished"
        request, reply = self.script.pop(0)
        assert data == request
        self.unread += reply
        return len(data)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        end = self.unread.find(expected)
        cut = len(self.unread) if end < 0 else end + len(expected)
        chunk, self.unread = self.unread[:cut], self.unread[cut:]
        return chunk

    def reset_input_buffer(self) -> None:
        self.unread = b""

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        assert not self.script, f"requests never sent: {self.script}"
        assert not self.unread, f"reply never read: {self.unread!r}"


ROM = (b"ROM?\r\n", b"SU-241 Ver.1.20\r\n")


@pytest.fixture
def replays() -> Iterator[list[Replay]]:
    made: list[Replay] = []
    yield made
    for replay in made:
        replay.assert_done()


def chamber(
    replays: list[Replay], *script: tuple[bytes, bytes], unit: int | None = None
) -> SerialChamber:
    replay = Replay(ROM, *script) if unit is None else Replay(*script)
    replays.append(replay)
    return SerialChamber("/dev/ttyS9", transport=replay, unit=unit, timeout=0.5)


def test_identity_comes_from_rom_query(replays: list[Replay]) -> None:
    device = chamber(replays)
    assert isinstance(device, Chamber)
    assert device.identity.as_dict() == {
        "driver": "chamber",
        "vendor": "ESPEC",
        "model": "SU-241",
        "serial": "/dev/ttyS9",
        "firmware": "Ver.1.20",
    }


def test_set_temperature_sends_celsius_then_constant_mode(replays: list[Replay]) -> None:
    device = chamber(
        replays,
        (b"TEMP, S60.0\r\n", b"OK:TEMP, S60.0\r\n"),
        (b"MODE,CONSTANT\r\n", b"OK:MODE,CONSTANT\r\n"),
    )
    device.set_temperature(333.15)


def test_read_gives_kelvin_and_the_set_point_only_while_controlling(
    replays: list[Replay],
) -> None:
    device = chamber(
        replays,
        (b"TEMP?\r\n", b"41.3,60.0,150.0,-40.0\r\n"),
        (b"MON?\r\n", b"41.3,,CONSTANT,0\r\n"),
        (b"TEMP?\r\n", b"25.1,60.0,150.0,-40.0\r\n"),
        (b"MON?\r\n", b"25.1,,STANDBY,0\r\n"),
    )
    reading = device.read()
    assert reading.temperature_K == pytest.approx(314.45)
    assert reading.setpoint_K == pytest.approx(333.15)
    standby = device.read()
    assert standby.temperature_K == pytest.approx(298.25) and standby.setpoint_K is None


def test_rs485_unit_number_prefixes_every_request(replays: list[Replay]) -> None:
    device = chamber(
        replays,
        (b"2,ROM?\r\n", b"P300 Ver.2.00\r\n"),
        (b"2,TEMP, S30.0\r\n", b"OK:2,TEMP, S30.0\r\n"),
        (b"2,MODE,CONSTANT\r\n", b"OK:2,MODE,CONSTANT\r\n"),
        unit=2,
    )
    assert device.identity.serial == "/dev/ttyS9 unit 2"
    device.set_temperature(303.15)


def test_a_garbled_reply_is_asked_for_once_more(replays: list[Replay]) -> None:
    device = chamber(
        replays,
        (b"TEMP?\r\n", b"41.3,6\xa7\x00\r\n"),
        (b"TEMP?\r\n", b"41.3,60.0,150.0,-40.0\r\n"),
        (b"MON?\r\n", b"41.3,,CONS"),  # cut short: no terminator within the timeout
        (b"MON?\r\n", b"41.3,,CONSTANT,0\r\n"),
    )
    assert device.read().temperature_K == pytest.approx(314.45)


def test_a_wrong_echo_is_retried_and_then_an_error(replays: list[Replay]) -> None:
    device = chamber(
        replays,
        (b"TEMP, S60.0\r\n", b"OK:TEMP, S50.0\r\n"),
        (b"TEMP, S60.0\r\n", b"OK:TEMP, S50.0\r\n"),
    )
    with pytest.raises(ChamberError, match=r"/dev/ttyS9: 'TEMP, S60.0' failed twice") as error:
        device.set_temperature(333.15)
    assert not isinstance(error.value, ChamberTimeout)


def test_silence_twice_is_a_timeout_naming_port_and_command(replays: list[Replay]) -> None:
    device = chamber(replays, (b"MON?\r\n", b""), (b"MON?\r\n", b""))
    with pytest.raises(ChamberTimeout, match=r"/dev/ttyS9: 'MON\?' failed twice: no reply"):
        device.monitor()


def test_a_refusal_is_raised_at_once_not_retried(replays: list[Replay]) -> None:
    device = chamber(replays, (b"TEMP, S200.0\r\n", b"NA:DATA OUT OF RANGE\r\n"))
    with pytest.raises(ChamberRefused, match=r"'TEMP, S200.0' refused: DATA OUT OF RANGE"):
        device.set_temperature(473.15)


def test_a_controller_that_never_answers_rom_fails_to_open_and_releases_the_port() -> None:
    replay = Replay((b"ROM?\r\n", b""), (b"ROM?\r\n", b""))
    with pytest.raises(ChamberTimeout, match="ROM"):
        SerialChamber("/dev/ttyS9", transport=replay, timeout=0.5)
    assert replay.closed
    replay.assert_done()


def test_closed_chamber_refuses_commands(replays: list[Replay]) -> None:
    device = chamber(replays)
    device.close()
    device.close()
    with pytest.raises(ChamberError, match="closed"):
        device.read()


def test_set_point_must_be_a_temperature(replays: list[Replay]) -> None:
    device = chamber(replays)
    for bad in (float("nan"), 0.0, -5.0):
        with pytest.raises(ValueError, match="above 0 K"):
            device.set_temperature(bad)
