"""One channel of the emulated instrument: loaded techniques run on the simulator's physics.

BL_LoadTechnique's parameters are read the way the guide describes them and turned back into
a cyclerctl Step (:func:`to_segment`), which a ``SimChannel`` runs; what the simulated cell
does is recorded as the device records it (Record_every_dT/dE/dI, the technique's final
point always) and kept in channel memory as the GetData rows the real device returns
(``decoding`` documents the layouts, per board family: the channel writes its own family's
rows). Linked techniques run one after the other; a limit
test with Exit_Cond 2 stops the experiment.

This is the emulator's reading of the vendor documentation, written apart from the
driver's own translation (``techniques``) so that a test through it checks one against
the other. What it cannot run it refuses loudly (:class:`NotEmulated`): steps with
different set points in one technique, ``vs_initial`` set points other than the start of
a scan or an EIS at the OCV, limit tests other than ORed single tests or the
(I ≤ x AND I ≥ −x) pair, N_Cycles > 0, linear frequency sweeps.
A single I test (I ≤ x, or I ≥ −x) is simulated as |I| < x: exact while the current keeps
its sign.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from cyclerctl.plan import EisSettings, EndCondition, Step, SweepSettings

from ..base import Samples
from ..sim import SimChannel, sweep_path
from . import ecc_catalog as C
from . import eclib_types as T
from .decoding import PHASE_ZWE_UNIT

ParamValue = bool | int | float
Floats = npt.NDArray[np.float64]
Words = npt.NDArray[np.uint32]

EXIT_STOP_EXPERIMENT = 2
#: Deliberate faults a commissioning check must catch: ``phase_degrees`` writes Phase_Zwe
#: and Phase_Zce in the other unit than the decoder's ``PHASE_ZWE_UNIT``.
MISCALES = ("phase_degrees",)
MEMORY_BYTES = 4 * 1024 * 1024
_EPS_S = 1e-9


class NotEmulated(NotImplementedError):
    """Documented device behaviour this emulator does not reproduce."""


class EmulatorRefusal(Exception):
    """A call the device refuses with a documented error code."""

    def __init__(self, code: int) -> None:
        super().__init__(T.error_text(code))
        self.code = code


@dataclass(slots=True)
class LoadedTechnique:
    ecc: C.EccFile
    file_name: str
    params: dict[str, dict[int, ParamValue]]

    def get(self, label: str, index: int = 0, default: ParamValue | None = None) -> ParamValue:
        value = self.params.get(label, {}).get(index, default)
        if value is None:
            raise NotEmulated(f"{self.file_name}: the emulator needs {label}[{index}]")
        return value

    def number(self, label: str, index: int = 0, default: float | None = None) -> float:
        return float(self.get(label, index, default))


@dataclass(slots=True)
class Segment:
    """One technique as the simulator runs it."""

    technique: LoadedTechnique
    step: Step
    limit_reasons: frozenset[str] = frozenset()
    exit_on_limit: int = 1
    record_dt: float = 0.0
    record_dx: float = 0.0
    x_column: str = ""  # "E", "I" or "Ec": what record_dx is measured on
    hold_s: float = 0.0  # EIS: the DC step before the spectrum (process 0)
    amplitude: float = 0.0  # EIS: V (PEIS) or A (GEIS)
    galvanostatic: bool = False
    scan: tuple[sweep_path.Segment, ...] = ()  # VSCAN: the programmed potential


class Chunk(NamedTuple):
    technique_index: int
    technique_id: int
    process: int
    rows: Words  # rows × columns
    timebase_s: float
    start_s: float


# -- parameters back into a Step ------------------------------------------------------------


def to_segment(t: LoadedTechnique) -> Segment:
    if t.number("N_Cycles", 0, 0) != 0:
        raise NotEmulated(f"{t.file_name}: N_Cycles > 0")
    stem = t.ecc.stem
    if stem == "ocv":
        step = Step(0, "OCV", "rest", ends=(EndCondition("time", t.number("Rest_time_T")),))
        return Segment(
            t,
            step,
            record_dt=t.number("Record_every_dT", 0, 0.0),
            record_dx=t.number("Record_every_dE", 0, 0.0),
            x_column="E",
        )
    if stem in ("cp", "cplimit", "ca", "calimit"):
        return _stepped(t)
    if stem in ("peis", "geis"):
        return _eis(t)
    if stem == "vscan":
        return _scan(t)
    raise NotEmulated(f"{t.file_name} is documented but not emulated")


def _stepped(t: LoadedTechnique) -> Segment:
    galvano = t.ecc.stem.startswith("cp")
    setpoint_label = "Current_step" if galvano else "Voltage_step"
    count = int(t.get("Step_number", 0, 0)) + 1
    setpoint = t.number(setpoint_label, 0)
    limits = _limits(t, 0) if t.ecc.stem.endswith("limit") else ()
    exit_cond = int(t.get("Exit_Cond", 0, 1)) if limits else 1
    total = 0.0
    for k in range(count):
        if t.number(setpoint_label, k) != setpoint or t.get("vs_initial", k, False):
            raise NotEmulated(f"{t.file_name}: steps with different or relative set points")
        if limits and (_limits(t, k) != limits or int(t.get("Exit_Cond", k, 1)) != exit_cond):
            raise NotEmulated(f"{t.file_name}: steps with different limits")
        total += t.number("Duration_step", k)
    ends = (EndCondition("time", total), *limits)
    if galvano:
        step = Step(0, t.ecc.stem.upper(), "cc", ends=ends, current_A=setpoint)
        dx, column = t.number("Record_every_dE", 0, 0.0), "E"
    else:
        step = Step(0, t.ecc.stem.upper(), "cv", ends=ends, voltage_V=setpoint)
        dx, column = t.number("Record_every_dI", 0, 0.0), "I"
    return Segment(
        t,
        step,
        frozenset(c.reason for c in limits),
        exit_cond,
        t.number("Record_every_dT", 0, 0.0),
        dx,
        column,
    )


def _limits(t: LoadedTechnique, k: int) -> tuple[EndCondition, ...]:
    """Test1..3 of step k (guide §7.36: bit 0 active, 1 AND, 2 "≥", 5… variable)."""
    tests: list[tuple[int, float]] = []
    for n in (1, 2, 3):
        config = int(t.get(f"Test{n}_Config", k, 0))
        if not config & 1:
            break  # Test2 is ignored without Test1, Test3 without both
        tests.append((config, t.number(f"Test{n}_Value", k, 0.0)))
    if not tests:
        return ()
    first, second = tests[0], tests[1] if len(tests) > 1 else None
    if second is not None and first[0] & 2:  # Test1 AND Test2: only |I| < x is emulated
        pair = {
            ((first[0] >> 2) & 1, first[0] >> 5, first[1]),
            ((second[0] >> 2) & 1, second[0] >> 5, second[1]),
        }
        x = abs(first[1])
        if pair != {(0, 3, x), (1, 3, -x)} or x <= 0:
            raise NotEmulated(f"{t.file_name}: ANDed limits other than I ≤ x AND I ≥ −x")
        if len(tests) == 3 and second[0] & 2:
            raise NotEmulated(f"{t.file_name}: (Test1 AND Test2) AND Test3")
        return (EndCondition("current_below", x), *[_single(t, c, v) for c, v in tests[2:]])
    if any(config & 2 for config, _ in tests[:-1]):
        raise NotEmulated(f"{t.file_name}: AND between limits other than |I| < x")
    return tuple(_single(t, config, value) for config, value in tests)


def _single(t: LoadedTechnique, config: int, value: float) -> EndCondition:
    variable, greater = config >> 5, bool(config & 4)
    if variable == 0:
        return EndCondition("voltage_above" if greater else "voltage_below", value)
    if variable == 3 and (value > 0) != greater and value != 0:
        return EndCondition("current_below", abs(value))
    raise NotEmulated(f"{t.file_name}: limit test {config} on {value:g}")


def _eis(t: LoadedTechnique) -> Segment:
    galvano = t.ecc.stem == "geis"
    if t.get("sweep", 0, False):
        raise NotEmulated(f"{t.file_name}: linear frequency spacing")
    f_start, f_stop = t.number("Initial_frequency"), t.number("Final_frequency")
    count = int(t.get("Frequency_number"))
    decades = abs(math.log10(f_stop / f_start))
    per_decade = round((count - 1) / decades) if decades > 0 else 0
    if per_decade < 1 or round(decades * per_decade) + 1 != count:
        raise NotEmulated(
            f"{t.file_name}: {count} frequencies over {decades:g} decades is not a whole number "
            "of points per decade (the simulator plans spectra that way)"
        )
    relative = bool(t.get("vs_initial", 0, False))
    if galvano:
        if relative or t.number("Initial_Current_step", 0, 0.0) != 0:
            raise NotEmulated(f"{t.file_name}: GEIS at a DC current other than zero")
        amplitude, bias = t.number("Amplitude_Current"), None
    else:
        level = t.number("Initial_Voltage_step", 0, 0.0)
        if relative and level != 0:
            raise NotEmulated(f"{t.file_name}: a bias relative to the OCV other than 0 V")
        amplitude, bias = t.number("Amplitude_Voltage"), None if relative else level
    settings = EisSettings(
        mode="galvanostatic" if galvano else "potentiostatic",
        f_start_Hz=f_start,
        f_stop_Hz=f_stop,
        amplitude=amplitude,
        points_per_decade=per_decade,
        averages=int(t.get("Average_N_times", 0, 1)),
        bias_V=bias,
    )
    step = Step(0, t.ecc.stem.upper(), "eis", eis=settings)
    dx = t.number("Record_every_dE" if galvano else "Record_every_dI", 0, 0.0)
    return Segment(
        t,
        step,
        record_dt=t.number("Record_every_dT", 0, 0.0),
        record_dx=dx,
        x_column="E" if galvano else "I",
        hold_s=t.number("Duration_step", 0, 0.0),
        amplitude=amplitude,
        galvanostatic=galvano,
    )


def _scan(t: LoadedTechnique) -> Segment:
    count = int(t.get("Scan_number")) + 2
    start = None if t.get("vs_initial", 0, False) else t.number("Voltage_step", 0)
    if start is None and t.number("Voltage_step", 0) != 0:
        raise NotEmulated(f"{t.file_name}: a start relative to the OCV other than 0 V")
    vertices = tuple(t.number("Voltage_step", k) for k in range(1, count))
    rates = {t.number("Scan_Rate", k) for k in range(1, count)}
    if len(rates) != 1 or any(t.get("vs_initial", k, False) for k in range(1, count)):
        raise NotEmulated(f"{t.file_name}: several scan rates or relative vertices")
    settings = SweepSettings(scan_rate_V_s=rates.pop(), vertices_V=vertices, start_V=start)
    step = Step(0, "VSCAN", "sweep", sweep=settings)
    return Segment(t, step, record_dx=t.number("Record_every_dE", 0, 0.0), x_column="Ec")


# -- the channel --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Recorder:
    """The device's record criteria: every dT, every dX, and a technique's last point."""

    dt: float
    dx: float
    last_t: float | None = None
    last_x: float = 0.0

    def select(self, t: Floats, x: Floats, *, final: bool) -> npt.NDArray[np.bool_]:
        keep = np.zeros(len(t), dtype=bool)
        for k in range(len(t)):
            if (
                self.last_t is None
                or (self.dt <= 0 and self.dx <= 0)
                or (self.dt > 0 and t[k] - self.last_t >= self.dt - 1e-9)
                or (self.dx > 0 and abs(x[k] - self.last_x) >= self.dx - 1e-9)
            ):
                keep[k] = True
                self.last_t, self.last_x = float(t[k]), float(x[k])
        if final and len(t):
            keep[-1] = True
        return keep


@dataclass(slots=True)
class EmulatedChannel:
    sim: SimChannel
    number: int  # 0-based
    board_type: int
    serial: int
    firmware_loaded: bool = False
    loaded: list[LoadedTechnique] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    complete: bool = False  # the last technique was loaded
    state: int = T.STATE_STOP
    memory: deque[Chunk] = field(default_factory=deque)
    running: int = -1
    started_clock_s: float = 0.0
    technique_start_s: float = 0.0
    recorder: _Recorder | None = None
    last_V: float = 0.0
    last_I: float = 0.0
    last_f: float = 0.0
    miscale: str | None = None  # one of MISCALES: a deliberately wrong emulator

    # -- technique loading and start/stop -------------------------------------------------

    def load(self, technique: LoadedTechnique, *, first: bool, last: bool) -> None:
        if self.state == T.STATE_RUN:
            raise EmulatorRefusal(T.ERR_GEN_CHANNEL_RUNNING)
        if first:
            self.loaded, self.segments, self.complete = [], [], False
        elif not self.loaded or self.complete:
            raise EmulatorRefusal(T.ERR_GEN_INVALIDPARAMETERS)  # a sequence must begin first
        segment = to_segment(technique)
        self.loaded.append(technique)
        self.segments.append(segment)
        self.complete = last

    def start(self) -> None:
        if self.state == T.STATE_RUN:
            raise EmulatorRefusal(T.ERR_GEN_CHANNEL_RUNNING)
        if not self.complete or not self.segments:
            raise EmulatorRefusal(T.ERR_GEN_INVALIDPARAMETERS)
        self.memory.clear()
        self.state = T.STATE_RUN
        self.started_clock_s = self.sim.clock_s
        self._start_technique(0)

    def stop(self) -> None:
        if self.state != T.STATE_RUN:
            return
        self.sim.stop()
        for _ in range(100_000):
            samples = self.sim.read()
            self._record(samples, final=samples.ended)
            if samples.ended:
                break
        self.state = T.STATE_STOP

    def _start_technique(self, index: int) -> None:
        segment = self.segments[index]
        self.running = index
        self.technique_start_s = self.sim.clock_s - self.started_clock_s
        self.recorder = _Recorder(segment.record_dt, segment.record_dx)
        if segment.step.sweep is not None:
            settings = segment.step.sweep
            start = settings.start_V
            if start is None:
                start = float(self.sim.model.hold_current(0.0, np.zeros(1)).voltage_V[0])
            segment.scan = sweep_path.segments(settings, start)
        self.sim.start_step(segment.step)

    # -- running ---------------------------------------------------------------------------------

    def advance(self) -> None:
        """Let the cell live one more simulator read and record what the device records."""
        if self.state != T.STATE_RUN:
            return
        segment = self.segments[self.running]
        samples = self.sim.read()
        self._record(samples, final=samples.ended)
        if not samples.ended:
            return
        stop_all = (
            samples.end_reason in segment.limit_reasons
            and segment.exit_on_limit == EXIT_STOP_EXPERIMENT
        )
        if stop_all or self.running + 1 >= len(self.segments):
            self.state = T.STATE_STOP
        else:
            self._start_technique(self.running + 1)

    def _record(self, samples: Samples, *, final: bool) -> None:
        segment = self.segments[self.running]
        points = samples.points
        ecc = segment.technique.ecc
        if len(points):
            self.last_V, self.last_I = float(points["V"][-1]), float(points["I"][-1])
        dc = points
        if segment.step.eis is not None:
            dc = points[points["t"] <= segment.hold_s + _EPS_S]
            final = False  # the spectrum's points, not the DC's, end an EIS technique
        if len(dc) and self.recorder is not None:
            x = self._x(segment, dc)
            dc = dc[self.recorder.select(dc["t"], x, final=final)]
        if len(dc):
            self._store(ecc, 0, self._dc_rows(segment, dc))
        if samples.impedance is not None and len(samples.impedance):
            self._store(ecc, 1, self._impedance_rows(segment, samples.impedance, points))

    def _x(self, segment: Segment, points: np.ndarray) -> Floats:
        if segment.x_column == "I":
            return np.asarray(points["I"], dtype=np.float64)
        if segment.x_column == "Ec":
            return self._programmed_V(segment, points["t"])
        return np.asarray(points["V"], dtype=np.float64)

    def _programmed_V(self, segment: Segment, t: Floats) -> Floats:
        path = segment.scan
        ends = np.array([s.t1_s for s in path])
        index = np.minimum(np.searchsorted(ends - _EPS_S, t, side="right"), len(path) - 1)
        t0 = np.array([s.t0_s for s in path])[index]
        rate = np.array([s.rate_V_s for s in path])[index]
        start = np.array([s.start_V for s in path])[index]
        result: Floats = start + rate * (np.clip(t, t0, ends[index]) - t0)
        return result

    def _dc_rows(self, segment: Segment, points: np.ndarray) -> Words:
        tb = segment.technique.ecc.timebase(self.board_type)
        hi, lo = _time_words(points["t"], tb)
        V, I = _singles(points["V"]), _singles(points["I"])
        zeros = np.zeros(len(points), dtype=np.uint32)
        stem = segment.technique.ecc.stem
        if stem == "ocv":
            columns = [hi, lo, V] + ([zeros] if self.board_type == T.BOARD_ESSENTIAL else [])
        elif stem == "vscan" and self.board_type == T.BOARD_ESSENTIAL:
            columns = [hi, lo, _singles(self._programmed_V(segment, points["t"])), I, V, zeros]
        elif stem == "vscan":
            columns = [hi, lo, I, V, zeros]  # SP-300 family: no Ec
        elif stem in ("peis", "geis"):
            columns = [hi, lo, V, I]
        else:
            columns = [hi, lo, V, I, zeros]
        return np.column_stack(columns).astype(np.uint32)

    def _impedance_rows(self, segment: Segment, z: np.ndarray, dc: np.ndarray) -> Words:
        magnitude = np.hypot(z["Zre"], z["Zim"])
        phase = self._phase_as_written(np.arctan2(z["Zim"], z["Zre"]))
        if segment.galvanostatic:
            abs_I = np.full(len(z), segment.amplitude)
            abs_E = abs_I * magnitude
        else:
            abs_E = np.full(len(z), segment.amplitude)
            abs_I = abs_E / magnitude
        current = np.interp(z["t"], dc["t"], dc["I"]) if len(dc) else np.full(len(z), self.last_I)
        self.last_f = float(z["f"][-1])
        zeros = np.zeros(len(z), dtype=np.uint32)
        columns = [
            _singles(z["f"]),
            _singles(abs_E),
            _singles(abs_I),
            _singles(phase),
            _singles(z["V_dc"]),
            _singles(current),
            zeros,
            zeros,
            zeros,
            zeros,
            zeros,
            zeros,
            zeros,
            _singles(z["t"]),
        ]
        if self.board_type == T.BOARD_ESSENTIAL:  # the I range, a single (easy-biologic)
            i_range = float(segment.technique.get("I_Range", 0, T.IRANGE_AUTO))
            columns.append(_singles(np.full(len(z), i_range)))
        return np.column_stack(columns).astype(np.uint32)

    def _phase_as_written(self, radians: Floats) -> Floats:
        """Phase_Zwe in the decoder's unit, or in the other one when miscaled on purpose."""
        degrees = (PHASE_ZWE_UNIT == "deg") != (self.miscale == "phase_degrees")
        return np.rad2deg(radians) if degrees else radians

    def _store(self, ecc: C.EccFile, process: int, rows: Words) -> None:
        self.memory.append(
            Chunk(
                self.running,
                ecc.technique_id,
                process,
                rows,
                ecc.timebase(self.board_type),
                self.technique_start_s,
            )
        )

    # -- what BL_GetData hands out ---------------------------------------------------------------

    def memory_bytes(self) -> int:
        return sum(4 * chunk.rows.size for chunk in self.memory)

    def take(self) -> Chunk | None:
        """Rows of one technique and process, at most a data buffer's worth."""
        if not self.memory and self.state == T.STATE_RUN:
            self.advance()
        if not self.memory:
            return None
        head = self.memory[0]
        per_call = T.DATA_BUFFER_WORDS // head.rows.shape[1]
        if len(head.rows) <= per_call:
            return self.memory.popleft()
        self.memory[0] = head._replace(rows=head.rows[per_call:])
        return head._replace(rows=head.rows[:per_call])

    def current_technique(self) -> tuple[int, int, float]:
        """(index, technique ID, time base) of the technique running or last run."""
        if self.running < 0:
            return 0, 0, C.OCV.timebase(self.board_type)
        ecc = self.segments[self.running].technique.ecc
        return self.running, ecc.technique_id, ecc.timebase(self.board_type)

    def elapsed_s(self) -> float:
        return self.sim.clock_s - self.started_clock_s if self.running >= 0 else 0.0


def _time_words(t: Floats, timebase_s: float) -> tuple[Words, Words]:
    """Time as the device counts it: 64-bit ticks of the (single-precision) time base, the
    ticks that have passed (floor): a row is never stamped after the next technique's
    StartTime (a CC-CV's CC end and its CV start are one instant)."""
    ticks = np.floor(np.asarray(t, dtype=np.float64) / float(np.float32(timebase_s)) + 1e-6)
    count = ticks.astype(np.uint64)
    return (count >> np.uint64(32)).astype(np.uint32), (count & np.uint64(0xFFFFFFFF)).astype(
        np.uint32
    )


def _singles(values: npt.ArrayLike) -> Words:
    return np.asarray(values, dtype=np.float32).view(np.uint32)
