"""The ESPEC controller's serial command set: what goes on the wire and how replies read.

Sources followed (none of it has been run against a real chamber):

- ESPEC North America's own ChamberConnectLibrary (MIT), ``especinteract.py`` and
  ``p300.py``: 9600 baud 8N1 by default, ``CR LF`` after every command and reply, an
  optional RS-485 unit number as ``"N,"`` before the command, ``"NA:<message>"`` for a
  refused command (with the table of messages copied into :data:`REFUSALS`), ``TEMP?`` →
  ``"measured,set point,upper limit,lower limit"``, ``MON?`` → ``"temperature,humidity,
  mode,alarms"`` (humidity empty on a temperature-only chamber), ``"TEMP, S%0.1f"`` to set
  the constant set point, ``"MODE,CONSTANT"`` to run on it, ``ROM?`` for the controller.
- ESPEC's communication manual for the EHS-211M/411M (same command family): setting
  commands are acknowledged ``"OK:<address,>setting command"``; ``MON?`` example reply
  ``"24.1,100,CONSTANT,0"``; ``ROM?`` answers "chamber model code, ROM version"
  (``"EHS-XXX Ver.X.XXX"``).
- A third-party SH-641 driver (akaeba/ATWG) that checks the echo ``"OK:TEMP,S25"``
  numerically, since the controller may not echo the digits as sent.

Unconfirmed: the exact ``ROM?`` layout on SU/SH/PR chambers (read here as a model code,
then the version), whether an SU/SH chamber echoes spaces and the unit number in ``OK:``
(both are accepted), whether ``TEMP, S`` without ``,C1`` always means constant set 1,
and what a temperature-only chamber puts in ``MON?``'s humidity field (empty or a number
are accepted). The protocol carries no checksum: a reply corrupted into another valid
reply cannot be detected; every other corruption (non-ASCII, missing terminator, wrong
field count, a word where a number belongs) is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

TERMINATOR = b"\r\n"
BAUDRATE = 9600  # ChamberConnectLibrary's default; P300 chambers are often set to 19200

QUERY_TEMPERATURE = "TEMP?"
QUERY_MONITOR = "MON?"
QUERY_ROM = "ROM?"
RUN_CONSTANT = "MODE,CONSTANT"

#: Operating modes ``MON?`` reports; the chamber controls temperature only in the last two.
MODES = ("OFF", "STANDBY", "CONSTANT", "RUN")
CONTROLLING = frozenset({"CONSTANT", "RUN"})

#: What the controller's ``NA:`` messages mean (ChamberConnectLibrary's table).
REFUSALS = {
    "CMD ERR": "unrecognised command",
    "ADDR ERR": "bad address",
    "CONT NOT READY-1": "chamber does not support PTCON/humidity",
    "CONT NOT READY-2": "chamber is not running a program",
    "CONT NOT READY-3": "command not supported by this controller",
    "PARA ERR": "parameter missing or unrecognisable",
    "DATA OUT OF RANGE": "value outside the allowed range",
    "PROTECT ON": "data protection is on at the controller's panel",
    "INVALID REQ": "unsupported function",
    "CHB NOT READY": "the chamber could not act on the command",
}


class GarbledReply(ValueError):
    """A reply that is not what the command answers: cut short, non-ASCII, misshapen."""


class Refused(Exception):
    """The controller understood the command and said no (``NA:<message>``)."""

    def __init__(self, message: str) -> None:
        self.message = message
        meaning = REFUSALS.get(message)
        super().__init__(f"{message} ({meaning})" if meaning else message)


@dataclass(frozen=True, slots=True)
class TemperatureStatus:
    """``TEMP?``: °C as the controller shows them."""

    measured_C: float
    setpoint_C: float
    upper_limit_C: float
    lower_limit_C: float


@dataclass(frozen=True, slots=True)
class Monitor:
    """``MON?``: the conditions in the chamber and its operating mode."""

    temperature_C: float
    humidity_pct: float | None  # None on a temperature-only chamber
    mode: str
    alarms: int

    @property
    def controlling(self) -> bool:
        return self.mode in CONTROLLING


@dataclass(frozen=True, slots=True)
class Rom:
    """``ROM?``: the chamber's model code and the controller's ROM version."""

    model: str
    version: str


# -- requests ------------------------------------------------------------------------------


def encode(command: str, unit: int | None = None) -> bytes:
    """One request line; ``unit`` is the RS-485 unit number (None on RS-232)."""
    prefix = "" if unit is None else f"{unit},"
    return (prefix + command).encode("ascii") + TERMINATOR


def set_temperature(celsius: float) -> str:
    """The constant-mode set point, to the controller's 0.1 °C."""
    if not math.isfinite(celsius):
        raise ValueError(f"set point must be a finite temperature, not {celsius!r}")
    return f"TEMP, S{_tenths(celsius)}"


def _tenths(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


# -- replies ---------------------------------------------------------------------------------


def decode(raw: bytes) -> str:
    """The text of one reply line; GarbledReply when cut short or not printable ASCII."""
    if not raw.endswith(TERMINATOR):
        raise GarbledReply(f"reply cut short: {raw!r}")
    body = raw[: -len(TERMINATOR)]
    if any(byte < 0x20 or byte > 0x7E for byte in body):
        raise GarbledReply(f"reply is not printable ASCII: {raw!r}")
    return body.decode("ascii").strip()


def check_refusal(reply: str) -> None:
    if reply.startswith("NA:"):
        raise Refused(reply[3:].strip())


def parse_temperature(reply: str) -> TemperatureStatus:
    fields = _fields(reply, 4, "TEMP?")
    measured, setpoint, upper, lower = (_number(f, "TEMP?") for f in fields)
    return TemperatureStatus(measured, setpoint, upper, lower)


def parse_monitor(reply: str) -> Monitor:
    temperature, humidity, mode, alarms = _fields(reply, 4, "MON?")
    mode = mode.strip().upper()
    if mode not in MODES:
        raise GarbledReply(f"MON? reply {reply!r}: unknown mode {mode!r}")
    if not alarms.strip().isdigit():
        raise GarbledReply(f"MON? reply {reply!r}: alarm count {alarms!r} is not a number")
    return Monitor(
        temperature_C=_number(temperature, "MON?"),
        humidity_pct=_number(humidity, "MON?") if humidity.strip() else None,
        mode=mode,
        alarms=int(alarms),
    )


def parse_rom(reply: str) -> Rom:
    words = reply.split(None, 1)
    if not words:
        raise GarbledReply("ROM? reply is empty")
    return Rom(model=words[0], version=words[1].strip() if len(words) > 1 else "")


def check_ack(reply: str, command: str) -> None:
    """``OK:`` followed by the setting command (numbers compared to 0.01, spaces and an
    RS-485 unit number ignored); GarbledReply when it acknowledges something else."""
    if not reply.startswith("OK:"):
        raise GarbledReply(f"expected OK:{command}, got {reply!r}")
    echo = re.sub(r"^\s*\d+\s*,", "", reply[3:])
    got, sent = _ack_fields(echo), _ack_fields(command)
    if len(got) != len(sent) or not all(map(_same_field, got, sent)):
        raise GarbledReply(f"expected OK:{command}, got {reply!r}")


def _ack_fields(text: str) -> list[str]:
    return [part.strip().upper() for part in text.split(",")]


_VALUE = re.compile(r"^([A-Z]*)\s*([-+]?\d+(?:\.\d*)?)$")


def _same_field(got: str, sent: str) -> bool:
    if got.replace(" ", "") == sent.replace(" ", ""):
        return True
    a, b = _VALUE.match(got), _VALUE.match(sent)
    return (
        a is not None and b is not None and a[1] == b[1] and abs(float(a[2]) - float(b[2])) < 0.01
    )


def _fields(reply: str, count: int, command: str) -> list[str]:
    fields = reply.split(",")
    if len(fields) != count:
        raise GarbledReply(f"{command} reply {reply!r}: {len(fields)} fields, expected {count}")
    return fields


def _number(text: str, command: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GarbledReply(f"{command} reply: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise GarbledReply(f"{command} reply: {text!r} is not a temperature")
    return value
