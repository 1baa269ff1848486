"""The emulated Series 2400 SourceMeter without the network: its settings, its command table
and its readings. :meth:`Keithley2400Emulator.handle` takes one program message (one line)
and returns the response line (None when it has none).

It answers as the Series 2400 SCPI of 2400S-900-01 Rev. K does, for the commands
:mod:`.keithley` uses and the queries that go with them: short and long forms in any case,
optional nodes, ``;``-separated units (:mod:`.parser`). ``*IDN?`` answers
``KEITHLEY INSTRUMENTS INC.,MODEL 2400,EMU0001,C30 cyclerctl emulator/A02  /K/J`` — the
documented form; the serial ``EMU0001`` says it is emulated. Errors (:mod:`.errors`): an
unknown header is ``-113,"Undefined header"``, a value beyond the instrument's range
``-222,"Parameter data out of range"``, :READ? with the output off ``803,"Not permitted with
OUTPUT off"`` (and no answer, as the instrument gives none).

Readings: ``:TRIG:COUN n`` makes one :READ? a burst of n readings (the Series 2400 trigger
model: n source-measure cycles per :READ?). Bit 3 of the STATus element (real compliance) is
set on the readings of a :READ? after which the source is limited. The TIME element is the
cell's time since :SYST:TIME:RES, and like the instrument's it starts over at 0 after
99 999.999 s: 2400S-900-01 lists TIME under :FORMat:ELEMents (p. 18-51, "Includes
timestamp"); the same entry in the manuals of its siblings on the same firmware family says
"After 99,999.999 seconds, the timer resets back to zero and starts over" (6430, p. 17-47;
2500, p. 17-46; read in public copies), and :SYSTem:TIME:RESet (p. 18-113) "is used to reset
the absolute timestamp to 0 seconds" (also at power-on). A step longer than 27.8 h therefore
sees its timestamp wrap. Not emulated: the timestamp counting 1024 ticks a second as
milliseconds (Keithley's note "Using the Model 2400 Internal Timestamp Feature", 1999).

``*RST`` defaults kept: compliance 21 V / 105 µA (2400S-900-01 §18, SENSe command summary,
p. 18-11: ``:PROTection[:LEVel]`` defaults 21 and 1.05e-4), output off in the NORMal
off-state (OUTPut summary, Table 18-4), all five elements, trigger count 1; CURR sensed
(not confirmed).

Commissioning: ``miscale="current_mA"`` makes the CURRent element report milliamps where the
instrument reports amps — a deliberately broken instrument that a commissioning check
(Ohm's law against a known resistor) must catch.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .cell_link import CellLink, Reading
from .errors import OUTPUT_OFF, ErrorQueue, ScpiFault
from .keithley import MAX_TRIGGER_COUNT, MODEL_RANGES, STATUS_COMPLIANCE
from .parameters import (
    bool_text,
    boolean,
    choice,
    command_only,
    functions,
    nr3,
    number,
    query_only,
)
from .parser import Pattern, Unit, units
from .timestamp import TIMESTAMP_PERIOD_S

log = logging.getLogger(__name__)

EMULATED_SERIAL = "EMU0001"
FIRMWARE = "C30 cyclerctl emulator/A02  /K/J"
NAN_READING = 9.91e37  # what the 2400 sends for an element it did not measure
ELEMENT_NAMES = {"VOLT": "VOLT", "CURR": "CURR", "RES": "RES", "TIME": "TIME", "STAT": "STAT"}
ELEMENT_LONG = {"VOLTAGE": "VOLT", "CURRENT": "CURR", "RESISTANCE": "RES", "STATUS": "STAT"}
DEFAULT_ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
#: Deliberate mis-scalings for commissioning tests: the element and the factor it is off by.
MISCALES = {"current_mA": ("CURR", 1e3)}
# status word bits (2400S-900-01 §18, FORMat:ELEMents STATus)
_FRONT, _V_MEAS, _I_MEAS, _V_SOUR, _I_SOUR = 1 << 2, 1 << 11, 1 << 12, 1 << 14, 1 << 15


@dataclass(slots=True)
class Settings:
    """What *RST sets (the subset the emulator keeps)."""

    output: bool = False
    off_mode: str = "NORM"
    function: str = "VOLT"
    level: dict[str, float] = field(default_factory=lambda: {"CURR": 0.0, "VOLT": 0.0})
    protection: dict[str, float] = field(default_factory=lambda: {"VOLT": 21.0, "CURR": 105e-6})
    source_autorange: dict[str, bool] = field(default_factory=lambda: {"CURR": True, "VOLT": True})
    sense_autorange: dict[str, bool] = field(default_factory=lambda: {"CURR": True, "VOLT": True})
    concurrent: bool = True
    sensing: set[str] = field(default_factory=lambda: {"CURR"})
    elements: tuple[str, ...] = DEFAULT_ELEMENTS
    trigger_count: int = 1
    remote_sense: bool = False


Handler = Callable[[Unit], str | None]


class Keithley2400Emulator:
    """The emulated instrument: settings, command table, readings of the cell behind it."""

    def __init__(
        self,
        link: CellLink,
        *,
        model: str = "2400",
        serial: str = EMULATED_SERIAL,
        miscale: str | None = None,
    ) -> None:
        if model not in MODEL_RANGES:
            raise ValueError(f"model {model!r}: one of {', '.join(MODEL_RANGES)}")
        if miscale is not None and miscale not in MISCALES:
            raise ValueError(f"miscale {miscale!r}: one of {', '.join(MISCALES)} (or none)")
        self.link = link
        self.idn = f"KEITHLEY INSTRUMENTS INC.,MODEL {model},{serial},{FIRMWARE}"
        self._v_max, self._i_max = MODEL_RANGES[model]
        self._miscale = MISCALES[miscale] if miscale is not None else None
        self._lock = threading.RLock()
        self._settings = Settings()
        self._errors = ErrorQueue()
        self._origin = 0.0  # cell time at the last :SYST:TIME:RES
        self._handlers: list[tuple[Pattern, Handler]] = [
            (Pattern(spelling), handler) for spelling, handler in self._table()
        ]
        self._common: dict[str, Handler] = {
            "*IDN": self._idn,
            "*RST": self._rst,
            "*CLS": self._cls,
            "*OPC": self._opc,
        }

    @property
    def virtual_time(self) -> bool:
        return self.link.virtual_time

    # -- the wire side -----------------------------------------------------------------------

    def handle(self, message: str) -> str | None:
        responses: list[str] = []
        with self._lock:
            for unit in units(message):
                try:
                    response = self._dispatch(unit)
                except ScpiFault as fault:
                    self._errors.put(fault.code)
                    if fault.code == OUTPUT_OFF:
                        return None  # a refused :READ? sends nothing at all
                    continue
                except (RuntimeError, ValueError):  # the simulated cell could not follow
                    log.exception("emulated SMU: %s failed", unit.text)
                    self._errors.put(900)
                    return None
                if response is not None:
                    responses.append(response)
        return ";".join(responses) if responses else None

    def tick(self) -> None:
        """Real time: let the cell live up to now (the background thread calls this)."""
        with self._lock:
            self.link.tick(self._settings)

    def _dispatch(self, unit: Unit) -> str | None:
        if unit.common:
            handler = self._common.get(unit.path[0])
        else:
            handler = next((h for p, h in self._handlers if p.matches(unit.path)), None)
        if handler is None:
            raise ScpiFault(-113)
        return handler(unit)

    def refuse(self, code: int) -> None:
        """Queue ``code`` as if the instrument had refused a command (fault hook)."""
        with self._lock:
            self._errors.put(code)

    # -- the command table ---------------------------------------------------------------

    def _table(self) -> list[tuple[str, Handler]]:
        return [
            (":SYSTem:ERRor[:NEXT]", self._error),
            (":SYSTem:TIME:RESet", self._time_reset),
            (":SYSTem:TIME", self._time),
            (":SYSTem:RSENse", self._remote_sense),
            (":OUTPut[1]:SMODe", self._off_mode),
            (":OUTPut[1][:STATe]", self._output),
            ("[:SOURce[1]]:FUNCtion[:MODE]", self._source_function),
            ("[:SOURce[1]]:CURRent[:LEVel][:IMMediate][:AMPLitude]", self._level("CURR")),
            ("[:SOURce[1]]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", self._level("VOLT")),
            ("[:SOURce[1]]:CURRent:RANGe:AUTO", self._autorange("source", "CURR")),
            ("[:SOURce[1]]:VOLTage:RANGe:AUTO", self._autorange("source", "VOLT")),
            ("[:SOURce[1]]:CURRent:RANGe", self._range("source", "CURR")),
            ("[:SOURce[1]]:VOLTage:RANGe", self._range("source", "VOLT")),
            ("[:SENSe[1]]:VOLTage[:DC]:PROTection[:LEVel]", self._protection("VOLT")),
            ("[:SENSe[1]]:CURRent[:DC]:PROTection[:LEVel]", self._protection("CURR")),
            ("[:SENSe[1]]:VOLTage[:DC]:RANGe:AUTO", self._autorange("sense", "VOLT")),
            ("[:SENSe[1]]:CURRent[:DC]:RANGe:AUTO", self._autorange("sense", "CURR")),
            ("[:SENSe[1]]:VOLTage[:DC]:RANGe[:UPPer]", self._range("sense", "VOLT")),
            ("[:SENSe[1]]:CURRent[:DC]:RANGe[:UPPer]", self._range("sense", "CURR")),
            ("[:SENSe[1]]:FUNCtion:CONCurrent", self._concurrent),
            ("[:SENSe[1]]:FUNCtion:OFF:ALL", self._functions_off_all),
            ("[:SENSe[1]]:FUNCtion:OFF", self._functions_off),
            ("[:SENSe[1]]:FUNCtion[:ON]", self._functions_on),
            (":FORMat:ELEMents[:SENSe[1]]", self._elements),
            (":TRIGger[:SEQuence[1]]:COUNt", self._trigger_count),
            (":READ", self._read),
        ]

    # -- common commands ---------------------------------------------------------------------

    def _idn(self, unit: Unit) -> str | None:
        query_only(unit)
        return self.idn

    def _rst(self, unit: Unit) -> str | None:
        command_only(unit)
        self._settings = Settings()
        self.link.switch_output(self._settings)
        return None

    def _cls(self, unit: Unit) -> str | None:
        command_only(unit)
        self._errors.clear()
        return None

    def _opc(self, unit: Unit) -> str | None:
        return "1" if unit.query else None

    # -- SYSTem, OUTPut ----------------------------------------------------------------------

    def _error(self, unit: Unit) -> str | None:
        query_only(unit)
        return self._errors.next_reply()

    def _time_reset(self, unit: Unit) -> str | None:
        command_only(unit)
        self._origin = self.link.next_reading_t()
        return None

    def _time(self, unit: Unit) -> str | None:
        query_only(unit)
        return nr3(self._timestamp(self.link.now()))

    def _timestamp(self, t: float) -> float:
        """The TIME element for cell time ``t``: since the last reset, starting over at 0
        after 99 999.999 s."""
        return math.fmod(max(t - self._origin, 0.0), TIMESTAMP_PERIOD_S)

    def _remote_sense(self, unit: Unit) -> str | None:
        if unit.query:
            return bool_text(self._settings.remote_sense)
        self._settings.remote_sense = boolean(unit)
        return None

    def _off_mode(self, unit: Unit) -> str | None:
        if unit.query:
            return self._settings.off_mode
        self._settings.off_mode = choice(
            unit,
            {
                "HIMP": "HIMP",
                "HIMPEDANCE": "HIMP",
                "NORM": "NORM",
                "NORMAL": "NORM",
                "ZERO": "ZERO",
                "GUAR": "GUAR",
                "GUARD": "GUAR",
            },
        )
        return None

    def _output(self, unit: Unit) -> str | None:
        if unit.query:
            return bool_text(self._settings.output)
        self._settings.output = boolean(unit)
        self.link.switch_output(self._settings)
        return None

    # -- SOURce, SENSe -----------------------------------------------------------------------

    def _source_function(self, unit: Unit) -> str | None:
        if unit.query:
            return self._settings.function
        self._settings.function = choice(
            unit, {"CURR": "CURR", "CURRENT": "CURR", "VOLT": "VOLT", "VOLTAGE": "VOLT"}
        )
        self.link.changed()
        return None

    def _limit(self, what: str) -> float:
        return self._i_max if what == "CURR" else self._v_max

    def _level(self, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            if unit.query:
                return nr3(self._settings.level[what])
            self._settings.level[what] = number(unit, self._limit(what))
            self.link.changed()
            return None

        return handler

    def _protection(self, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            if unit.query:
                return nr3(self._settings.protection[what])
            value = number(unit, self._limit(what))
            if value <= 0:
                raise ScpiFault(-222)
            self._settings.protection[what] = value
            self.link.changed()
            return None

        return handler

    def _autoranges(self, side: str) -> dict[str, bool]:
        """Autorange on/off by quantity, of the source or the sense side."""
        settings = self._settings
        return settings.source_autorange if side == "source" else settings.sense_autorange

    def _autorange(self, side: str, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            ranges = self._autoranges(side)
            if unit.query:
                return bool_text(ranges[what])
            ranges[what] = boolean(unit)
            return None

        return handler

    def _range(self, side: str, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            ranges = self._autoranges(side)
            if unit.query:
                return nr3(self._limit(what))
            number(unit, self._limit(what))
            ranges[what] = False  # a fixed range turns autorange off
            return None

        return handler

    def _concurrent(self, unit: Unit) -> str | None:
        if unit.query:
            return bool_text(self._settings.concurrent)
        self._settings.concurrent = boolean(unit)
        return None

    def _functions_on(self, unit: Unit) -> str | None:
        if unit.query:
            return ",".join(f'"{f}:DC"' for f in sorted(self._settings.sensing))
        self._settings.sensing |= functions(unit)
        return None

    def _functions_off(self, unit: Unit) -> str | None:
        command_only(unit)
        self._settings.sensing -= functions(unit)
        return None

    def _functions_off_all(self, unit: Unit) -> str | None:
        command_only(unit)
        self._settings.sensing = set()
        return None

    def _elements(self, unit: Unit) -> str | None:
        if unit.query:
            return ",".join(self._settings.elements)
        if not unit.parameters:
            raise ScpiFault(-109)
        chosen: list[str] = []
        for parameter in unit.parameters:
            word = parameter.upper()
            name = ELEMENT_NAMES.get(word) or ELEMENT_LONG.get(word)
            if name is None:
                raise ScpiFault(-224)
            if name not in chosen:
                chosen.append(name)
        # the instrument sends them in its own order, whatever order they were asked in
        self._settings.elements = tuple(e for e in DEFAULT_ELEMENTS if e in chosen)
        return None

    def _trigger_count(self, unit: Unit) -> str | None:
        if unit.query:
            return str(self._settings.trigger_count)
        value = number(unit, MAX_TRIGGER_COUNT)
        if value < 1 or value != int(value):
            raise ScpiFault(-222)
        self._settings.trigger_count = int(value)
        return None

    # -- reading -----------------------------------------------------------------------------

    def _read(self, unit: Unit) -> str | None:
        query_only(unit)
        if not self._settings.output:
            raise ScpiFault(OUTPUT_OFF)
        readings = self.link.take(self._settings.trigger_count, self._settings)
        return ",".join(self._format(r) for r in readings)

    def _format(self, reading: Reading) -> str:
        s = self._settings
        values: dict[str, float] = {
            "VOLT": reading.V
            if "VOLT" in s.sensing
            else (s.level["VOLT"] if s.function == "VOLT" else NAN_READING),
            "CURR": reading.current
            if "CURR" in s.sensing
            else (s.level["CURR"] if s.function == "CURR" else NAN_READING),
            "RES": NAN_READING,
            "TIME": self._timestamp(reading.t),
            "STAT": float(self._status(reading)),
        }
        if self._miscale is not None:
            element, factor = self._miscale
            if values[element] != NAN_READING:
                values[element] *= factor
        return ",".join(nr3(values[e]) for e in s.elements)

    def _status(self, reading: Reading) -> int:
        s = self._settings
        word = _FRONT | (_V_SOUR if s.function == "VOLT" else _I_SOUR)
        word |= (_V_MEAS if "VOLT" in s.sensing else 0) | (_I_MEAS if "CURR" in s.sensing else 0)
        return word | (STATUS_COMPLIANCE if reading.compliance else 0)
