"""The Keithley Series 2400 SourceMeter's SCPI command set, one small method per command.

Dialect: the Series 2400 SCPI of the *2400 Series SourceMeter User's Manual*, document
2400S-900-01 Rev. K (September 2011), section 18 "SCPI Command Reference", section 16
"Common Commands" and appendix B "Status and Error Messages". It covers the 2400, 2400-LV,
2401, 2410, 2420, 2425, 2430 (DC) and 2440, and a 2450 set to that command set with
``*LANG SCPI2400`` (*Model 2450 Reference Manual* 2450-901-01 Rev. B, appendix B ``*LANG``
and appendix D "Model 2450 in a Model 2400 application"). The 2450's own SCPI (buffers,
``:SOUR:CURR:VLIM``) is not what this file speaks.

Every configuration command goes through :meth:`Keithley2400.configure`: it is written, then
``:SYSTem:ERRor?`` is read until ``0,"No error"``, and anything else raises
:class:`InstrumentError` naming the instrument, the command and the instrument's own text.

Read in the manual (through public copies of 2400S-900-01): *IDN? format (§16),
:FORMat:ELEMents and the reading string, :OUTPut:SMODe, :SYSTem:TIME:RESet, the source and
list ranges per model, the error list (-113, -222, +803 "Not permitted with OUTPUT off").
Not confirmed: the status-word bit numbers (bit 3 "real compliance" is from the same list in
the manual of a 2400-compatible unit, the GW Instek GSM-20H10, and agrees with the 2400
manual's example word 48,132); the exact form ``:SENS:FUNC:ON "VOLT","CURR"`` (seen in code
driving real 2400s); whether the source function may change while the output is on (the
driver sets limit and level first, so either way is safe); that ``:READ?`` with the output
off is what raises +803. Not run against a real SourceMeter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..base import InstrumentFault

#: :FORMat:ELEMents the driver asks for, in the order the instrument sends them.
ELEMENTS = ("VOLT", "CURR", "TIME", "STAT")
#: Bit 3 of the STATus element: "in real compliance" (2400S-900-01, :FORMat:ELEMents).
STATUS_COMPLIANCE = 1 << 3
#: What the instrument sends for "no reading" (NAN, +9.91E37) or an overflow (+9.9E37).
NOT_A_READING = 9.9e37
#: Largest trigger count: :TRIGger:COUNt takes 1 to 2500 (the buffer size).
MAX_TRIGGER_COUNT = 2500

#: |V| and |I| each model can source (2400S-900-01 §18, :SOURce:LIST parameter ranges;
#: the 2450 from its data sheet: 210 V, 1.05 A).
MODEL_RANGES: dict[str, tuple[float, float]] = {
    "2400": (210.0, 1.05),
    "2400-LV": (21.0, 1.05),
    "2401": (21.0, 1.05),
    "2410": (1100.0, 1.05),
    "2420": (63.0, 3.15),
    "2425": (105.0, 3.15),
    "2430": (105.0, 3.15),
    "2440": (42.0, 5.25),
    "2450": (210.0, 1.05),
}

_IDN = re.compile(r"^\s*([^,]+),\s*MODEL\s+([^,]+?)\s*,\s*([^,]*?)\s*,\s*(.*?)\s*$", re.I)


class Transport(Protocol):
    """A message-based VISA resource (pyvisa's ``MessageBasedResource``) or a fake."""

    def write(self, message: str) -> object: ...

    def query(self, message: str) -> str: ...


class InstrumentError(InstrumentFault, RuntimeError):
    """The instrument refused a command: who, which command, and what it said. It answered,
    so the link is fine and the output holds what it had (``link_lost`` False)."""

    def __init__(self, instrument: str, command: str, errors: list[str]) -> None:
        super().__init__(instrument, command, f"was refused: {'; '.join(errors)}")
        self.errors = errors


class GarbledReply(ValueError):
    """A reply that is not what the command answers (cut short, not numbers, not CODE,"…")."""


@dataclass(frozen=True, slots=True)
class Idn:
    vendor: str
    model: str
    serial: str
    firmware: str


def parse_idn(reply: str) -> Idn:
    """``KEITHLEY INSTRUMENTS INC.,MODEL nnnn,xxxxxxx,yyyyy/zzzzz /a/d`` (2400S-900-01 §16)."""
    match = _IDN.match(reply)
    if match is None:
        raise GarbledReply(f"*IDN? answered {reply!r}, not MAKER,MODEL nnnn,SERIAL,FIRMWARE")
    vendor, model, serial, firmware = match.groups()
    return Idn(vendor.strip(), model.upper(), serial, firmware)


def parse_error(reply: str) -> tuple[int, str]:
    """``-113,"Undefined header"`` → (-113, "Undefined header")."""
    code, _, text = reply.strip().partition(",")
    try:
        return int(float(code)), text.strip().strip('"')
    except ValueError:
        raise GarbledReply(f':SYST:ERR? answered {reply!r}, not CODE,"MESSAGE"') from None


def parse_readings(reply: str, elements: tuple[str, ...] = ELEMENTS) -> np.ndarray:
    """The values of one :READ? (trigger count × elements), one row per reading; the
    instrument's "no reading" markers become NaN."""
    try:
        values = np.array([float(v) for v in reply.strip().split(",")], dtype=float)
    except ValueError:
        raise GarbledReply(f":READ? answered {reply[:80]!r}, not comma-separated numbers") from None
    if values.size == 0 or values.size % len(elements):
        raise GarbledReply(
            f":READ? answered {values.size} values, not a multiple of the "
            f"{len(elements)} elements {','.join(elements)}"
        )
    values[np.abs(values) >= NOT_A_READING] = math.nan
    return values.reshape(-1, len(elements))


def number(value: float) -> str:
    """A numeric parameter as sent: 6 significant digits (the 2400 resolves 5½)."""
    if not math.isfinite(value):
        raise ValueError(f"not a number the instrument can take: {value!r}")
    return f"{value:.6g}"


def _on(state: bool) -> str:
    return "ON" if state else "OFF"


class Keithley2400:
    """The commands the driver uses, each a documented one (2400S-900-01 §16, §18)."""

    def __init__(self, transport: Transport, name: str) -> None:
        self.transport = transport
        self.name = name  # for messages: who refused

    # -- the checked configuration path ------------------------------------------------------

    def configure(self, command: str) -> None:
        """Send one configuration command, then empty the error queue; raise on any error."""
        self.transport.write(command)
        errors = self.drain_errors()
        if errors:
            raise InstrumentError(self.name, command, errors)

    def drain_errors(self, limit: int = 32) -> list[str]:
        """Every queued error as the instrument wrote it, oldest first (``:SYST:ERR?``
        until ``0,"No error"``; the 2400's queue holds at most 10)."""
        errors: list[str] = []
        for _ in range(limit):
            code, text = self.next_error()
            if code == 0:
                return errors
            errors.append(f'{code},"{text}"')
        errors.append(f"(error queue not empty after {limit} reads)")
        return errors

    # -- common commands (§16) ---------------------------------------------------------------

    def identify(self) -> Idn:
        return parse_idn(self.transport.query("*IDN?"))

    def reset(self) -> None:
        self.configure("*RST")

    def clear_status(self) -> None:
        self.configure("*CLS")

    # -- SYSTem ------------------------------------------------------------------------------

    def next_error(self) -> tuple[int, str]:
        return parse_error(self.transport.query(":SYST:ERR?"))

    def reset_timestamp(self) -> None:
        """:SYSTem:TIME:RESet — the TIME element counts from 0 s again."""
        self.configure(":SYST:TIME:RES")

    def remote_sense(self, four_wire: bool) -> None:
        self.configure(f":SYST:RSEN {_on(four_wire)}")

    # -- OUTPut ------------------------------------------------------------------------------

    def output(self, on: bool) -> None:
        self.configure(f":OUTP {_on(on)}")

    def output_off_high_impedance(self) -> None:
        """:OUTPut:SMODe HIMPedance — output off opens the relay: a cell is left at open
        circuit, not on a 0 V source (the NORMal off-state would slowly discharge it)."""
        self.configure(":OUTP:SMOD HIMP")

    # -- SOURce ------------------------------------------------------------------------------

    def source_function(self, function: str) -> None:
        if function not in ("CURR", "VOLT"):
            raise ValueError(f"source function {function!r}: CURR or VOLT")
        self.configure(f":SOUR:FUNC {function}")

    def source_current(self, current_A: float) -> None:
        self.configure(f":SOUR:CURR:LEV {number(current_A)}")

    def source_voltage(self, voltage_V: float) -> None:
        self.configure(f":SOUR:VOLT:LEV {number(voltage_V)}")

    def source_current_autorange(self) -> None:
        self.configure(":SOUR:CURR:RANG:AUTO ON")

    def source_voltage_autorange(self) -> None:
        self.configure(":SOUR:VOLT:RANG:AUTO ON")

    # -- SENSe -------------------------------------------------------------------------------

    def voltage_compliance(self, voltage_V: float) -> None:
        """:SENSe:VOLTage:PROTection — the most |V| the current source may drive."""
        self.configure(f":SENS:VOLT:PROT {number(voltage_V)}")

    def current_compliance(self, current_A: float) -> None:
        """:SENSe:CURRent:PROTection — the most |I| the voltage source may drive."""
        self.configure(f":SENS:CURR:PROT {number(current_A)}")

    def concurrent_measurements(self, on: bool) -> None:
        self.configure(f":SENS:FUNC:CONC {_on(on)}")

    def measure_voltage_and_current(self) -> None:
        self.configure(':SENS:FUNC:ON "VOLT","CURR"')

    def sense_voltage_autorange(self) -> None:
        self.configure(":SENS:VOLT:RANG:AUTO ON")

    def sense_current_autorange(self) -> None:
        self.configure(":SENS:CURR:RANG:AUTO ON")

    # -- FORMat, TRIGger, READ ---------------------------------------------------------------

    def data_elements(self, elements: tuple[str, ...] = ELEMENTS) -> None:
        self.configure(f":FORM:ELEM {','.join(elements)}")

    def trigger_count(self, count: int) -> None:
        """:TRIGger:COUNt — how many source-measure readings one :READ? takes."""
        if not 1 <= count <= MAX_TRIGGER_COUNT:
            raise ValueError(f"trigger count {count}: 1 to {MAX_TRIGGER_COUNT}")
        self.configure(f":TRIG:COUN {count}")

    def read(self, elements: tuple[str, ...] = ELEMENTS) -> np.ndarray:
        """:READ? — trigger count readings of the data elements, one row each."""
        return parse_readings(self.transport.query(":READ?"), elements)
