"""A wire-level emulator of a Keithley Series 2400 SourceMeter, with a simulated cell on it.

It listens on TCP (``TCPIP::127.0.0.1::<port>::SOCKET`` for pyvisa), reads ``\\n``-terminated
program messages and answers as the Series 2400 SCPI of 2400S-900-01 Rev. K does, for the
commands :mod:`.keithley` uses and the queries that go with them: short and long forms in any
case, optional nodes, ``;``-separated units. ``*IDN?`` answers
``KEITHLEY INSTRUMENTS INC.,MODEL 2400,EMU0001,C30 cyclerctl emulator/A02  /K/J`` — the
documented form; the serial ``EMU0001`` says it is emulated. Errors go to a queue of 10
read with ``:SYST:ERR?`` (``0,"No error"`` when empty): an unknown header is
``-113,"Undefined header"``, a value beyond the instrument's range
``-222,"Parameter data out of range"``, :READ? with the output off ``803,"Not permitted with
OUTPUT off"`` (and no answer, as the instrument gives none).

Behind it is one :class:`~cyclerctl.drivers.sim.SimChannel` with
``native_end_conditions=frozenset()``: the emulated SMU never ends anything itself. What the
source is set to becomes a simulator step with no end conditions, started where the last one
left off, when the next reading is taken:

- current source at 0 A → ``rest``; at I ≠ 0 with voltage compliance Vc → ``cccv`` with
  the CV voltage at ±Vc: the simulated cell meets compliance as a real SMU does (V clamped);
- voltage source at V with current compliance Ic → ``cv``, or ``cccv`` at ±Ic when holding V
  now would take more than Ic.

Bit 3 of the STATus element (real compliance) is set on the readings of a :READ? after which
the source is limited. The TIME element is the cell's step time since :SYST:TIME:RES.

Time (option ``virtual_time``): virtual — each reading of a :READ? advances the cell by one
sample interval (``sample_interval_s``, default 1 s), and ``:TRIG:COUN n`` makes one :READ?
a burst of n readings (the Series 2400 trigger model: n source-measure cycles per :READ?),
so a whole protocol runs through real VISA bytes as fast as the machine allows. Real time —
a background thread advances the cell with the wall clock × ``speed``; :READ? returns the
latest reading(s).

Not confirmed against the manual itself: the ``*RST`` defaults of the sense functions and
compliance (taken as CURR sensed, 21 V / 105 µA), the positive error codes' sign format.
The physics is the simulator's; the instrument's ranges (±210 V, ±1.05 A for a 2400) are
checked, the simulated channel's own (±5 V, ±0.1 A) clamp what reaches the cell.

Fault hooks for tests, on :class:`ScpiEmulator`: :meth:`~ScpiEmulator.garble_next` (the next
n replies arrive as line noise, or cut short), :meth:`~ScpiEmulator.silence_next` (the next
n queries are lost: not executed, not answered, so the client times out),
:meth:`~ScpiEmulator.refuse_next` (the next n commands are refused with an error code, read
back with ``:SYST:ERR?``), :meth:`~ScpiEmulator.drop_link` (every connection closed at once,
as when a LAN link or a serial-to-LAN bridge resets) and :meth:`~ScpiEmulator.go_offline` /
:meth:`~ScpiEmulator.come_back` (nothing listens: connections are refused). The instrument
behind keeps its state through all of them — its output stays on if it was on — as a real
SourceMeter does when only its link goes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyclerctl.plan import CellSummary, Step

from ..base import StepProgress
from ..sim import SimChannel, SimInstrument
from ..sim.channel import CURRENT_MAX_A as SIM_CURRENT_MAX_A
from ..sim.channel import VOLTAGE_RANGE_V as SIM_VOLTAGE_RANGE_V
from .faults import REFUSAL_CODES, WireFaults
from .keithley import MAX_TRIGGER_COUNT, MODEL_RANGES, STATUS_COMPLIANCE
from .parser import Pattern, Unit, units

log = logging.getLogger(__name__)

EMULATED_SERIAL = "EMU0001"
FIRMWARE = "C30 cyclerctl emulator/A02  /K/J"
ERROR_QUEUE_SIZE = 10
NAN_READING = 9.91e37  # what the 2400 sends for an element it did not measure
TICK_S = 0.02  # real time: how often the background thread advances the cell
ELEMENT_NAMES = {"VOLT": "VOLT", "CURR": "CURR", "RES": "RES", "TIME": "TIME", "STAT": "STAT"}
ELEMENT_LONG = {"VOLTAGE": "VOLT", "CURRENT": "CURR", "RESISTANCE": "RES", "STATUS": "STAT"}
DEFAULT_ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
# status word bits (2400S-900-01 §18, FORMat:ELEMents STATus)
_FRONT, _V_MEAS, _I_MEAS, _V_SOUR, _I_SOUR = 1 << 2, 1 << 11, 1 << 12, 1 << 14, 1 << 15

MESSAGES = {
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -222: "Parameter data out of range",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
    803: "Not permitted with OUTPUT off",
    900: "Internal System Error",
    -310: "System error",
    -363: "Input buffer overrun",
}


assert MESSAGES.keys() >= REFUSAL_CODES  # a refusal hook queues a code the queue can name


class ScpiFault(Exception):
    """A command the instrument refuses: it queues ``code`` and carries on."""

    def __init__(self, code: int) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


@dataclass(slots=True)
class _Reading:
    t: float  # cell step time, s
    V: float
    current: float
    compliance: bool


@dataclass(slots=True)
class _Settings:
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
    """The emulated instrument without the network: :meth:`handle` takes one program
    message and returns the response line (None when it has none)."""

    def __init__(
        self,
        channel: SimChannel,
        *,
        virtual_time: bool,
        model: str = "2400",
        serial: str = EMULATED_SERIAL,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if model not in MODEL_RANGES:
            raise ValueError(f"model {model!r}: one of {', '.join(MODEL_RANGES)}")
        self.channel = channel
        self.virtual_time = virtual_time
        self.idn = f"KEITHLEY INSTRUMENTS INC.,MODEL {model},{serial},{FIRMWARE}"
        self._v_max, self._i_max = MODEL_RANGES[model]
        self._speed = speed
        self._clock = clock
        self._boot = clock()
        self._lock = threading.RLock()
        self._settings = _Settings()
        self._errors: deque[int] = deque()
        self._dirty = False  # the source settings changed since the cell was last set up
        self._running = False  # a simulator step is running (output on)
        self._sim_t = 0.0  # virtual time: the cell's time at its latest point
        self._origin = 0.0  # cell time at the last :SYST:TIME:RES
        self._pending: deque[_Reading] = deque()  # virtual: simulated, not yet read out
        self._recent: deque[_Reading] = deque(maxlen=MAX_TRIGGER_COUNT)  # real time
        self._handlers: list[tuple[Pattern, Handler]] = [
            (Pattern(spelling), handler) for spelling, handler in self._table()
        ]
        self._common: dict[str, Handler] = {
            "*IDN": self._idn,
            "*RST": self._rst,
            "*CLS": self._cls,
            "*OPC": self._opc,
        }

    # -- the wire side -----------------------------------------------------------------------

    def handle(self, message: str) -> str | None:
        responses: list[str] = []
        with self._lock:
            for unit in units(message):
                try:
                    response = self._dispatch(unit)
                except ScpiFault as fault:
                    self._queue(fault.code)
                    if fault.code == 803:
                        return None  # a refused :READ? sends nothing at all
                    continue
                except (RuntimeError, ValueError):  # the simulated cell could not follow
                    log.exception("emulated SMU: %s failed", unit.text)
                    self._queue(900)
                    return None
                if response is not None:
                    responses.append(response)
        return ";".join(responses) if responses else None

    def tick(self) -> None:
        """Real time: let the cell live up to now (the background thread calls this)."""
        with self._lock:
            if self._dirty:
                self._apply()
            if self._running:
                self._recent.extend(self._simulate_now())

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
            self._queue(code)

    def _queue(self, code: int) -> None:
        if len(self._errors) >= ERROR_QUEUE_SIZE:
            self._errors[-1] = -350
        else:
            self._errors.append(code)

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
        _query_only(unit)
        return self.idn

    def _rst(self, unit: Unit) -> str | None:
        _command_only(unit)
        self._settings = _Settings()
        self._switch_output()
        return None

    def _cls(self, unit: Unit) -> str | None:
        _command_only(unit)
        self._errors.clear()
        return None

    def _opc(self, unit: Unit) -> str | None:
        return "1" if unit.query else None

    # -- SYSTem, OUTPut ----------------------------------------------------------------------

    def _error(self, unit: Unit) -> str | None:
        _query_only(unit)
        if not self._errors:
            return '0,"No error"'
        code = self._errors.popleft()
        return f'{code},"{MESSAGES[code]}"'

    def _time_reset(self, unit: Unit) -> str | None:
        _command_only(unit)
        self._origin = self._pending[0].t if self._pending else self._now()
        return None

    def _time(self, unit: Unit) -> str | None:
        _query_only(unit)
        return _nr3(self._now() - self._origin)

    def _remote_sense(self, unit: Unit) -> str | None:
        if unit.query:
            return _bool_text(self._settings.remote_sense)
        self._settings.remote_sense = _boolean(unit)
        return None

    def _off_mode(self, unit: Unit) -> str | None:
        if unit.query:
            return self._settings.off_mode
        self._settings.off_mode = _choice(
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
            return _bool_text(self._settings.output)
        self._settings.output = _boolean(unit)
        self._switch_output()
        return None

    # -- SOURce, SENSe -----------------------------------------------------------------------

    def _source_function(self, unit: Unit) -> str | None:
        if unit.query:
            return self._settings.function
        self._settings.function = _choice(
            unit, {"CURR": "CURR", "CURRENT": "CURR", "VOLT": "VOLT", "VOLTAGE": "VOLT"}
        )
        self._dirty = True
        return None

    def _limit(self, what: str) -> float:
        return self._i_max if what == "CURR" else self._v_max

    def _level(self, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            if unit.query:
                return _nr3(self._settings.level[what])
            self._settings.level[what] = _number(unit, self._limit(what))
            self._dirty = True
            return None

        return handler

    def _protection(self, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            if unit.query:
                return _nr3(self._settings.protection[what])
            value = _number(unit, self._limit(what))
            if value <= 0:
                raise ScpiFault(-222)
            self._settings.protection[what] = value
            self._dirty = True
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
                return _bool_text(ranges[what])
            ranges[what] = _boolean(unit)
            return None

        return handler

    def _range(self, side: str, what: str) -> Handler:
        def handler(unit: Unit) -> str | None:
            ranges = self._autoranges(side)
            if unit.query:
                return _nr3(self._limit(what))
            _number(unit, self._limit(what))
            ranges[what] = False  # a fixed range turns autorange off
            return None

        return handler

    def _concurrent(self, unit: Unit) -> str | None:
        if unit.query:
            return _bool_text(self._settings.concurrent)
        self._settings.concurrent = _boolean(unit)
        return None

    def _functions_on(self, unit: Unit) -> str | None:
        if unit.query:
            return ",".join(f'"{f}:DC"' for f in sorted(self._settings.sensing))
        self._settings.sensing |= _functions(unit)
        return None

    def _functions_off(self, unit: Unit) -> str | None:
        _command_only(unit)
        self._settings.sensing -= _functions(unit)
        return None

    def _functions_off_all(self, unit: Unit) -> str | None:
        _command_only(unit)
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
        value = _number(unit, MAX_TRIGGER_COUNT)
        if value < 1 or value != int(value):
            raise ScpiFault(-222)
        self._settings.trigger_count = int(value)
        return None

    # -- reading -----------------------------------------------------------------------------

    def _read(self, unit: Unit) -> str | None:
        _query_only(unit)
        if not self._settings.output:
            raise ScpiFault(803)
        count = self._settings.trigger_count
        readings = self._take_virtual(count) if self.virtual_time else self._take_real(count)
        return ",".join(self._format(r) for r in readings)

    def _take_virtual(self, count: int) -> list[_Reading]:
        taken: list[_Reading] = []
        empty_reads = 0
        while len(taken) < count:
            if not self._pending:
                if self._dirty:  # settings apply between readings, never inside a burst
                    self._apply()
                fresh = self._simulate_now()
                if not fresh:
                    empty_reads += 1
                    if empty_reads > 3:
                        raise RuntimeError("the simulated cell produced no points")
                self._pending.extend(fresh)
                continue
            taken.append(self._pending.popleft())
        return taken

    def _take_real(self, count: int) -> list[_Reading]:
        self.tick()
        if not self._recent:
            raise RuntimeError("the simulated cell produced no points")
        recent = list(self._recent)[-count:]
        return [recent[0]] * (count - len(recent)) + recent

    def _format(self, reading: _Reading) -> str:
        s = self._settings
        values: dict[str, float] = {
            "VOLT": reading.V
            if "VOLT" in s.sensing
            else (s.level["VOLT"] if s.function == "VOLT" else NAN_READING),
            "CURR": reading.current
            if "CURR" in s.sensing
            else (s.level["CURR"] if s.function == "CURR" else NAN_READING),
            "RES": NAN_READING,
            "TIME": reading.t - self._origin,
            "STAT": float(self._status(reading)),
        }
        return ",".join(_nr3(values[e]) for e in s.elements)

    def _status(self, reading: _Reading) -> int:
        s = self._settings
        word = _FRONT | (_V_SOUR if s.function == "VOLT" else _I_SOUR)
        word |= (_V_MEAS if "VOLT" in s.sensing else 0) | (_I_MEAS if "CURR" in s.sensing else 0)
        return word | (STATUS_COMPLIANCE if reading.compliance else 0)

    # -- the simulated cell behind the terminals ---------------------------------------------

    def _now(self) -> float:
        """The cell's clock: its latest point (virtual time) or the wall clock × speed."""
        if self.virtual_time:
            return self._sim_t
        return (self._clock() - self._boot) * self._speed

    def _switch_output(self) -> None:
        if self._settings.output:
            self._dirty = True
        else:  # off at once: the cell must not live on under a source that is off
            self._dirty = False
            self._stop_cell()

    def _stop_cell(self) -> None:
        if self._running:
            self.channel.stop()
            while not self.channel.read().ended:
                pass
            self._running = False
        self._pending.clear()
        self._recent.clear()

    def _apply(self) -> None:
        """The source settings in force from now on become a simulator step."""
        self._dirty = False
        if not self._settings.output:
            self._stop_cell()
            return
        if not self.virtual_time and self._running:
            self._recent.extend(self._simulate_now())  # up to now under the old settings
        step = self._cell_step()
        self.channel.start_step(step, StepProgress(elapsed_s=self._now()))
        self._running = True
        self._pending.clear()
        self._recent.clear()

    def _cell_step(self) -> Step:
        s = self._settings
        level = s.level[s.function]
        if s.function == "CURR":
            if level == 0:
                return Step(0, "emulated 0 A", "rest")
            current = _clamp(level, SIM_CURRENT_MAX_A, "current")
            compliance = min(s.protection["VOLT"], _sim_voltage_max())
            return Step(
                0,
                "emulated I source",
                "cccv",
                current_A=current,
                voltage_V=math.copysign(compliance, current),
            )
        voltage = _clamp(level, _sim_voltage_max(), "voltage")
        limit = min(s.protection["CURR"], SIM_CURRENT_MAX_A)
        needed = float(self.channel.model.hold_voltage(voltage, np.zeros(1)).current_A[0])
        if abs(needed) > limit:
            return Step(
                0,
                "emulated V source",
                "cccv",
                current_A=math.copysign(limit, needed),
                voltage_V=voltage,
            )
        return Step(0, "emulated V source", "cv", voltage_V=voltage)

    def _simulate_now(self) -> list[_Reading]:
        """The points the simulated channel has for now: up to one host poll (virtual time),
        everything up to the wall clock (real time)."""
        points: list[np.ndarray] = []
        for _ in range(1 if self.virtual_time else 10_000):
            block = self.channel.read().points
            if not len(block):
                break
            points.append(block)
        if not points:
            return []
        block = np.concatenate(points)
        self._sim_t = float(block["t"][-1])
        limited = self._in_compliance()
        return [_Reading(float(p["t"]), float(p["V"]), float(p["I"]), limited) for p in block]

    def _in_compliance(self) -> bool:
        """Would the programmed source, applied now, need more than its compliance?"""
        s = self._settings
        level = s.level[s.function]
        model = self.channel.model
        if s.function == "CURR":
            if level == 0:
                return False
            compliance = min(s.protection["VOLT"], _sim_voltage_max())
            voltage = float(model.hold_current(level, np.zeros(1)).voltage_V[0])
            return abs(voltage) >= compliance - 1e-9
        limit = min(s.protection["CURR"], SIM_CURRENT_MAX_A)
        current = float(model.hold_voltage(level, np.zeros(1)).current_A[0])
        return abs(current) >= limit - 1e-12


# -- parameters ------------------------------------------------------------------------------


def _query_only(unit: Unit) -> None:
    if not unit.query:
        raise ScpiFault(-113)


def _command_only(unit: Unit) -> None:
    if unit.query:
        raise ScpiFault(-113)


def _single(unit: Unit) -> str:
    if not unit.parameters:
        raise ScpiFault(-109)
    if len(unit.parameters) > 1:
        raise ScpiFault(-108)
    return unit.parameters[0]


def _number(unit: Unit, limit: float) -> float:
    text = _single(unit).upper()
    if text in ("MAX", "MAXIMUM"):
        return limit
    if text in ("MIN", "MINIMUM"):
        return -limit
    if text in ("DEF", "DEFAULT"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise ScpiFault(-104) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise ScpiFault(-222)
    return value


def _boolean(unit: Unit) -> bool:
    text = _single(unit).upper()
    if text in ("ON", "1"):
        return True
    if text in ("OFF", "0"):
        return False
    raise ScpiFault(-224)


def _choice(unit: Unit, choices: Mapping[str, str]) -> str:
    value = choices.get(_single(unit).upper())
    if value is None:
        raise ScpiFault(-224)
    return value


def _functions(unit: Unit) -> set[str]:
    if not unit.parameters:
        raise ScpiFault(-109)
    chosen: set[str] = set()
    for parameter in unit.parameters:
        name = parameter.strip("\"'").upper().split(":")[0]
        if name in ("VOLT", "VOLTAGE"):
            chosen.add("VOLT")
        elif name in ("CURR", "CURRENT"):
            chosen.add("CURR")
        elif name in ("RES", "RESISTANCE"):
            continue  # accepted; the emulator measures no resistance
        else:
            raise ScpiFault(-224)
    return chosen


def _bool_text(value: bool) -> str:
    return "1" if value else "0"


def _nr3(value: float) -> str:
    return f"{value:+.6E}"


def _sim_voltage_max() -> float:
    return min(abs(v) for v in SIM_VOLTAGE_RANGE_V)


def _clamp(value: float, limit: float, what: str) -> float:
    if abs(value) <= limit:
        return value
    log.warning("emulated SMU: %s %g is beyond the simulated channel's ±%g", what, value, limit)
    return math.copysign(limit, value)


# -- the TCP server --------------------------------------------------------------------------


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # answers go out at once, not after a delayed ACK
    server: _Server

    def handle(self) -> None:
        self.server.track(self.connection)
        emulator = self.server.emulator
        try:
            for raw in self.rfile:
                line = raw.decode("ascii", errors="replace").strip()
                if not line:
                    continue
                fault = emulator.take_fault(line)
                if fault == "silence":
                    continue
                if isinstance(fault, int):
                    emulator.instrument.refuse(fault)
                    continue
                reply = emulator.instrument.handle(line)
                if reply is None:
                    continue
                data = reply.encode("ascii")
                garble = emulator.take_garble()
                if garble == "junk":  # line noise: half a reply, bytes that are not ASCII
                    data = data[: len(data) // 2] + b"\xfe\x81#\x00"
                elif garble == "short":  # the reply's last field lost
                    data = data.rpartition(b",")[0] or data[: len(data) // 2]
                self.wfile.write(data + b"\n")
        except (ConnectionError, OSError):
            pass  # the client went away
        finally:
            self.server.untrack(self.connection)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: ScpiEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._guard:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._guard:
            self._connections.discard(connection)

    def drop_all(self) -> int:
        """Shut every open connection down; how many there were."""
        with self._guard:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)
            return len(self._connections)


class ScpiEmulator(WireFaults):
    """A Series 2400 SourceMeter on ``host:port`` (0: a free port), one simulated cell on it.

    ``options``: ``virtual_time`` (default False), ``speed`` (real time, default 1),
    ``seed``, ``sample_interval_s`` (default 1 s), ``model`` (default "2400").
    """

    def __init__(
        self,
        cells: Sequence[CellSummary],
        host: str = "127.0.0.1",
        port: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        options = dict(options or {})
        WireFaults.__init__(self)
        self.dropped = 0  # connections closed by drop_link / go_offline
        if len(cells) != 1:
            raise ValueError(
                f"a SourceMeter has one channel: give one cell, not {len(cells)} "
                "(start one emulator per cell)"
            )
        virtual = bool(options.get("virtual_time", False))
        seed = options.get("seed")
        speed = float(options.get("speed") or 1.0)
        simulator = SimInstrument(
            cells,
            seed=None if seed is None else int(seed),
            sample_interval_s=float(options.get("sample_interval_s", 1.0)),
            realtime=not virtual,
            speed=speed,
            name="smu",
            native_end_conditions=frozenset(),
            chamber=False,
        )
        self.instrument = Keithley2400Emulator(
            simulator.channels[0],
            virtual_time=virtual,
            model=str(options.get("model", "2400")),
            speed=speed,
        )
        self._server: _Server | None = _Server((host or "127.0.0.1", port), self)
        bound = self._server.socket.getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        self._closed = threading.Event()
        self._threads = [self._serving(self._server)]
        if not virtual:
            self._threads.append(
                threading.Thread(target=self._tick, name="scpi-emulator-clock", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def _serving(self, server: _Server) -> threading.Thread:
        return threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scpi-emulator",
            daemon=True,
        )

    # -- fault hooks on the connection (those on messages: WireFaults) ----------------------

    def drop_link(self) -> None:
        """Close every connection now; new ones are accepted (the instrument keeps its state)."""
        if self._server is not None:
            self.dropped += self._server.drop_all()

    def go_offline(self) -> None:
        """Close every connection and stop listening: connecting is refused until
        :meth:`come_back`. The instrument keeps its state (its output stays as it was)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self.dropped += server.drop_all()
        server.server_close()

    def come_back(self) -> None:
        """Listen again on the same port."""
        if self._server is not None or self._closed.is_set():
            return
        self._server = _Server((self.host, self.port), self)
        thread = self._serving(self._server)
        self._threads.append(thread)
        thread.start()

    def _tick(self) -> None:
        while not self._closed.wait(TICK_S):
            try:
                self.instrument.tick()
            except Exception:  # keep serving; the next :READ? reports what is wrong
                log.exception("emulated SMU: the simulated cell failed")

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.go_offline()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ScpiEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
