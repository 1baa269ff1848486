"""Our SourceMeter bytes held against other people's: the Series 2400 manual's command headers
and examples, and the commands PyMeasure's Keithley 2400 clients send to real instruments.

The driver's tests against our own emulator prove only that our two halves agree. Here:

1. every program message the driver sends in a session that uses every command it has
   (connect, rest, CC, CV, CC-CV with its switch, 4-wire, output off) must parse as the
   manual's SCPI: each unit one header of 2400S-900-01 §16-§18, spelt by the short-form rule
   of §14, with a parameter of the documented type and range;
2. where the manual prints an example line, ours is that line byte for byte;
3. for each command, PyMeasure's spelling of the same control names the same manual header
   with an equivalent parameter — byte for byte where both use the short form.

Sources (facts quoted, nothing copied):

- *2400 Series SourceMeter User's Manual* 2400S-900-01 Rev. K, read in public copies:
  §14 p. 14-13 (``:OUTPut ON`` = ``:OUTPut 1``; case-insensitive headers), §17 Table 17-1
  (``:READ?``), §18 Tables 18-3 FORMat and 18-4 OUTPut, the SENSe summary (p. 18-11) and
  SOURce summary (Table 18-7), :FORMat:ELEMents (p. 18-51), :SYSTem:TIME:RESet (p. 18-113),
  source amplitude ranges (p. 18-77/78), §4 Table 4-3 (auto-ohms programming example:
  ``:SYST:RSEN ON``, ``:OUTP ON``, ``:READ?``, ``:OUTP OFF``), §16 (``*IDN?``, ``*RST``,
  ``*CLS``).
- PyMeasure (MIT licence, © PyMeasure Developers), github.com/pymeasure/pymeasure at commit
  32503b81982e235424a9260a794619d8d9a59e3a: ``pymeasure/instruments/keithley/
  keithley2400_legacy.py`` (the 2400 client frozen at 0.15, short forms) and
  ``tests/instruments/keithley/test_keithley2400.py`` (the current client's exact messages,
  long forms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from cyclerctl.drivers.scpi import start_emulator
from cyclerctl.drivers.scpi.driver import UNCONFIRMED, SourceMeterInstrument
from cyclerctl.drivers.scpi.keithley import Keithley2400
from cyclerctl.drivers.scpi.parser import Pattern, Unit, units
from cyclerctl.drivers.sim.dummy import dummy_cell
from cyclerctl.plan import Step

# -- the manual: headers and parameter types ------------------------------------------------

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")  # NRf (IEEE 488.2)
ELEMENT_ITEMS = {"VOLT", "VOLTAGE", "CURR", "CURRENT", "RES", "RESISTANCE", "TIME", "STAT",
                 "STATUS"}  # fmt: skip
FUNCTION_NAMES = {"VOLT", "VOLTAGE", "CURR", "CURRENT", "RES", "RESISTANCE"}


def _none(parameters: tuple[str, ...]) -> bool:
    return parameters == ()


def _boolean(parameters: tuple[str, ...]) -> bool:  # <b> (§14)
    return len(parameters) == 1 and parameters[0].upper() in ("ON", "OFF", "1", "0")


def _number_within(limit: float, *, positive: bool = False) -> Callable[[tuple[str, ...]], bool]:
    def check(parameters: tuple[str, ...]) -> bool:
        if len(parameters) != 1 or not NUMBER.match(parameters[0]):
            return False
        value = float(parameters[0])
        return abs(value) <= limit and (value > 0 or not positive)

    return check


def _name(*choices: str) -> Callable[[tuple[str, ...]], bool]:
    return lambda parameters: len(parameters) == 1 and parameters[0].upper() in choices


def _items(parameters: tuple[str, ...]) -> bool:  # <item list> of :FORMat:ELEMents
    return bool(parameters) and all(p.upper() in ELEMENT_ITEMS for p in parameters)


def _functions(parameters: tuple[str, ...]) -> bool:  # quoted names, as FUNC "RES" (§4)
    names = [p[1:-1] for p in parameters if len(p) > 2 and p[0] == p[-1] and p[0] in "\"'"]
    return (
        bool(parameters)
        and len(names) == len(parameters)
        and all(n.upper().split(":")[0] in FUNCTION_NAMES for n in names)
    )


def _count(parameters: tuple[str, ...]) -> bool:  # :TRIGger:COUNt 1 to 2500
    return len(parameters) == 1 and parameters[0].isdigit() and 1 <= int(parameters[0]) <= 2500


@dataclass(frozen=True)
class Documented:
    spelling: str  # the header as the manual prints it
    query: bool
    valid: Callable[[tuple[str, ...]], bool]
    where: str

    def matches(self, unit: Unit) -> bool:
        if unit.common or self.spelling.startswith("*"):
            return unit.path == (self.spelling,) and unit.query == self.query
        return unit.query == self.query and Pattern(self.spelling).matches(unit.path)


# A 2400 (the model the emulator and the scripted tests are): ±1.05 A, ±210 V.
MANUAL: tuple[Documented, ...] = (
    Documented("*IDN", True, _none, "§16 *IDN?"),
    Documented("*RST", False, _none, "§16 *RST"),
    Documented("*CLS", False, _none, "§16 *CLS"),
    Documented(":SYSTem:ERRor[:NEXT]", True, _none, "§18 SYSTem, appendix B"),
    Documented(":SYSTem:TIME:RESet", False, _none, "§18 p. 18-113"),
    Documented(":SYSTem:RSENse", False, _boolean, "§18 SYSTem; §4 Table 4-3"),
    Documented(":OUTPut[1][:STATe]", False, _boolean, "§18 Table 18-4; §14 p. 14-13"),
    Documented(
        ":OUTPut[1]:SMODe",
        False,
        _name("HIMP", "HIMPEDANCE", "NORM", "NORMAL", "ZERO", "GUAR", "GUARD"),
        "§18 Table 18-4",
    ),
    Documented(
        "[:SOURce[1]]:FUNCtion[:MODE]",
        False,
        _name("VOLT", "VOLTAGE", "CURR", "CURRENT"),
        "§18 SOURce",
    ),
    Documented(
        "[:SOURce[1]]:CURRent[:LEVel][:IMMediate][:AMPLitude]",
        False,
        _number_within(1.05),
        "§18 p. 18-77: 2400 <n> = -1.05 to 1.05",
    ),
    Documented(
        "[:SOURce[1]]:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
        False,
        _number_within(210),
        "§18 p. 18-77: 2400 <n> = -210 to 210",
    ),
    Documented("[:SOURce[1]]:CURRent:RANGe:AUTO", False, _boolean, "§18 Table 18-7"),
    Documented("[:SOURce[1]]:VOLTage:RANGe:AUTO", False, _boolean, "§18 Table 18-7"),
    Documented(
        "[:SENSe[1]]:CURRent[:DC]:PROTection[:LEVel]",
        False,
        _number_within(1.05, positive=True),
        "§18 SENSe summary p. 18-11",
    ),
    Documented(
        "[:SENSe[1]]:VOLTage[:DC]:PROTection[:LEVel]",
        False,
        _number_within(210, positive=True),
        "§18 SENSe summary p. 18-11",
    ),
    Documented("[:SENSe[1]]:CURRent[:DC]:RANGe:AUTO", False, _boolean, "§18 p. 18-11"),
    Documented("[:SENSe[1]]:VOLTage[:DC]:RANGe:AUTO", False, _boolean, "§18 p. 18-11"),
    Documented("[:SENSe[1]]:FUNCtion:CONCurrent", False, _boolean, "§18 SENSe"),
    Documented("[:SENSe[1]]:FUNCtion[:ON]", False, _functions, "§18 SENSe; §4 Table 4-3"),
    Documented(":FORMat:ELEMents[:SENSe[1]]", False, _items, "§18 Table 18-3, p. 18-51"),
    Documented(":TRIGger[:SEQuence[1]]:COUNt", False, _count, "§18 TRIGger"),
    Documented(":READ", True, _none, "§17 Table 17-1"),
)


def documented(unit: Unit) -> Documented:
    """The one manual entry ``unit`` is, or an assertion naming what is wrong with it."""
    found = [entry for entry in MANUAL if entry.matches(unit)]
    assert len(found) == 1, f"{unit.text!r}: {len(found)} manual headers match, not one"
    (entry,) = found
    assert entry.valid(unit.parameters), f"{unit.text!r}: parameters not as in {entry.where}"
    return entry


# -- 1. what the driver sends, in a session that uses every command it has ------------------


@pytest.fixture(scope="module")
def sent() -> list[str]:
    """Every program message of one session, as the emulator received it."""
    options = {"virtual_time": True, "voltage_limit_V": 1.0, "remote_sense": True,
               "current_limit_A": 1e-3, "points_per_read": 10}  # fmt: skip
    with start_emulator([dummy_cell(1000.0)], "127.0.0.1", 0, options) as emulator:
        instrument = SourceMeterInstrument(emulator.address, timeout_ms=3000, options=options)
        instrument.connect()
        try:
            channel = instrument.channels[0]
            for step in (
                Step(0, "rest", "rest"),
                Step(1, "cc", "cc", current_A=-5e-4),
                Step(2, "cv", "cv", voltage_V=0.2),
                Step(3, "cccv", "cccv", current_A=5e-4, voltage_V=0.3),  # 0.5 V at 0.5 mA
            ):
                channel.start_step(step)
                channel.read()
                channel.read()
            assert channel.cv_switch_s is not None  # the switch to CV was sent
        finally:
            instrument.close()
        return list(emulator.requests)


def _units(lines: list[str]) -> Iterator[Unit]:
    for line in lines:
        yield from units(line)


def test_every_unit_the_driver_sends_is_a_documented_header_with_documented_parameters(
    sent: list[str],
) -> None:
    used = {documented(unit).spelling for unit in _units(sent)}
    # not vacuous: the session used every header in the table
    assert used == {entry.spelling for entry in MANUAL}


def test_the_driver_sends_the_manuals_example_lines_byte_for_byte(sent: list[str]) -> None:
    """2400S-900-01 §4 Table 4-3 (auto-ohms programming example) prints these lines."""
    for example in (":SYST:RSEN ON", ":OUTP ON", ":READ?", ":OUTP OFF"):
        assert example in sent, example


def test_the_grammar_reads_the_manuals_own_examples() -> None:
    """The short-form rule the checks above rely on, on the manual's examples (§14 p. 14-13:
    case does not matter, ``:OUTPut ON`` = ``:OUTPut 1``; §18 p. 18-75 ``:SOURce:VOLTage:RANGe
    3``; p. 18-113 ``:SYSTem:TIME:RESet``)."""
    output = next(e for e in MANUAL if e.spelling == ":OUTPut[1][:STATe]")
    for text in (":OUTPut ON", ":OUTPut 1", ":outp on", ":OUTP:STAT 1"):
        (unit,) = units(text)
        assert output.matches(unit) and output.valid(unit.parameters), text
    (unit,) = units(":SOURce:VOLTage:RANGe 3")
    assert Pattern("[:SOURce[1]]:VOLTage:RANGe").matches(unit.path)
    (unit,) = units(":system:time:reset")
    assert documented(unit).spelling == ":SYSTem:TIME:RESet"
    for wrong in (":OUTPU ON", ":SOUR:CURR:LEVE 1", ":SYST:TIM:RES"):  # neither short nor long
        (unit,) = units(wrong)
        assert not any(entry.matches(unit) for entry in MANUAL), wrong


# -- 3. PyMeasure's spelling of the same controls --------------------------------------------


class _Recorder:
    """A transport that records what the command set writes and answers "no error"."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, message: str) -> object:
        self.lines.append(message)
        return None

    def query(self, message: str) -> str:
        self.lines.append(message)
        return '0,"No error"' if message == ":SYST:ERR?" else "+0,+0,+0,+0"


def _ours(command: Callable[[Keithley2400], object]) -> str:
    """The message a command of ours sends (a configuration is then checked with
    :SYST:ERR?, which is not part of it)."""
    recorder = _Recorder()
    command(Keithley2400(recorder, "test"))
    line, *check = recorder.lines
    assert check in ([], [":SYST:ERR?"])
    return line


LEGACY = "keithley2400_legacy.py"
CURRENT = "test_keithley2400.py"
#: (our command, PyMeasure's message or its template, the value it is given, where it is)
SAME_CONTROL_TEMPLATES: tuple[tuple[Callable[[Keithley2400], object], str, object, str], ...] = (
    (lambda k: k.voltage_compliance(4.4), ":SENS:VOLT:PROT %g", 4.4, LEGACY),
    (lambda k: k.current_compliance(0.01), ":SENS:CURR:PROT %g", 0.01, LEGACY),
    (lambda k: k.source_current(-5e-4), ":SOUR:CURR:LEV %g", -5e-4, LEGACY),
    (lambda k: k.source_voltage(4.2), ":SOUR:VOLT:LEV %g", 4.2, LEGACY),
    (lambda k: k.source_function("CURR"), ":SOUR:FUNC %s", "CURR", LEGACY),
    (lambda k: k.source_function("VOLT"), ":SOURCE:FUNCTION VOLT", None, CURRENT),
    (lambda k: k.trigger_count(10), ":TRIG:COUN %d", 10, LEGACY),
    (lambda k: k.output_off_high_impedance(), ":OUTP:SMOD %s", "HIMP", LEGACY),
    (lambda k: k.read(), ":READ?", None, LEGACY),
    (lambda k: k.concurrent_measurements(True), ":SENS:FUNC:CONC %d", 1, LEGACY),
    (lambda k: k.source_current_autorange(), ":SOUR:CURR:RANG:AUTO 1", None, LEGACY),
    (lambda k: k.source_voltage_autorange(), ":SOUR:VOLT:RANG:AUTO 1", None, LEGACY),
    (lambda k: k.sense_voltage_autorange(), ":SENS:VOLT:RANG:AUTO 1;", None, LEGACY),
    (lambda k: k.sense_current_autorange(), ":SENS:CURR:RANG:AUTO 1;", None, LEGACY),
    (lambda k: k.output(True), "OUTPUT ON", None, LEGACY),
    (lambda k: k.output(False), "OUTPUT 0", None, CURRENT),
    (lambda k: k.remote_sense(True), ":SYSTEM:RSENSE 1", None, CURRENT),
    (lambda k: k.measure_voltage_and_current(), ":SENS:FUNC 'VOLT'", None, LEGACY),
    (
        lambda k: k.data_elements(),
        ":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS",
        None,
        CURRENT,
    ),
    (lambda k: k.current_compliance(0.5), ":SENSE:CURRENT:PROTECTION 0.5", None, CURRENT),
    (lambda k: k.voltage_compliance(0.5), ":SENSE:VOLTAGE:PROTECTION 0.5", None, CURRENT),
    (lambda k: k.source_current(0.5), ":SOURCE:CURRENT 0.5", None, CURRENT),
    (lambda k: k.source_voltage(0.5), ":SOURCE:VOLTAGE 0.5", None, CURRENT),
    (lambda k: k.next_error(), "SYST:ERR?", None, CURRENT),
)
SAME_CONTROL = tuple(
    (command, template if value is None else template % value, source)
    for command, template, value, source in SAME_CONTROL_TEMPLATES
)
#: PyMeasure's own messages that carry more than one unit or a trailing ";" are read as
#: the instrument reads them (one unit each); the boolean 1 is ON (§14 p. 14-13).
BYTE_IDENTICAL = {
    ":SENS:VOLT:PROT 4.4", ":SENS:CURR:PROT 0.01", ":SOUR:CURR:LEV -0.0005",
    ":SOUR:VOLT:LEV 4.2", ":SOUR:FUNC CURR", ":TRIG:COUN 10", ":OUTP:SMOD HIMP", ":READ?",
}  # fmt: skip


def _equivalent(a: str, b: str) -> bool:
    """Boolean and number parameters compared as the instrument reads them."""
    words = {"ON": "1", "OFF": "0"}
    a_, b_ = words.get(a.upper(), a.upper()), words.get(b.upper(), b.upper())
    if NUMBER.match(a_) and NUMBER.match(b_):
        return float(a_) == float(b_)
    return a_.strip("\"'") == b_.strip("\"'")


@pytest.mark.parametrize(
    ("command", "theirs", "source"), SAME_CONTROL, ids=[theirs for _, theirs, _ in SAME_CONTROL]
)
def test_pymeasure_names_the_same_header_with_an_equivalent_parameter(
    command: Callable[[Keithley2400], object], theirs: str, source: str
) -> None:
    ours = _ours(command)
    (our_unit,) = units(ours)
    (their_unit,) = units(theirs)
    mine, other = documented(our_unit), documented(their_unit)
    assert mine is other, f"{ours!r} is {mine.spelling}, PyMeasure's {theirs!r} {other.spelling}"
    if mine.spelling == ":FORMat:ELEMents[:SENSe[1]]":  # ours asks a subset of theirs
        short = {p.upper()[:4] for p in their_unit.parameters}
        assert {p.upper()[:4] for p in our_unit.parameters} <= short
    elif mine.spelling == "[:SENSe[1]]:FUNCtion[:ON]":  # theirs turns one on, ours two
        assert set(their_unit.parameters[0].strip("'\"").upper().split(":")[:1]) <= {
            p.strip("'\"").upper() for p in our_unit.parameters
        }
    else:
        assert len(our_unit.parameters) == len(their_unit.parameters)
        for a, b in zip(our_unit.parameters, their_unit.parameters, strict=True):
            assert _equivalent(a, b), f"{ours!r} vs PyMeasure's {theirs!r} ({source})"
    if ours in BYTE_IDENTICAL:
        assert ours == theirs.rstrip(";"), f"{ours!r} vs PyMeasure's {theirs!r} ({source})"


def test_what_stays_unconfirmed_is_listed_for_probe() -> None:
    assert UNCONFIRMED and all(isinstance(line, str) and line for line in UNCONFIRMED)
    assert any("99 999.999" in line for line in UNCONFIRMED)
