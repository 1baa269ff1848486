"""A cyclerctl Step as BioLogic techniques: which .ecc files, with which parameters.

=========  ==========================================================================
step       techniques (linked with BL_LoadTechnique's first/last flags)
=========  ==========================================================================
rest       OCV, Rest_time_T from the time condition (several linked OCVs when the rest
           is longer than one OCV can count: tb·2³¹ = 11.9 h)
cc         CP, or CPLIMIT when a voltage or current condition is to end it. The step's
           time is Duration_step; a charge condition at constant current is the
           duration |Q|/|I| (exact; the end reason is then ``limit:charge``)
cv         CA, or CALIMIT with |I| < limit as (I ≤ x AND I ≥ −x)
cccv       CPLIMIT (Ewe ≥ V, exit to the next technique) then CA/CALIMIT (I ≤ x with the
           current's sign)
eis        PEIS (potentiostatic) or GEIS (galvanostatic), log sweep f_start → f_stop,
           Frequency_number = round(decades × points per decade) + 1
sweep      VSCAN (Voltage Scan): vertex 0 is the start (or 0 V vs the initial potential,
           i.e. the OCV), then the vertices, cycles unrolled into the vertex list
=========  ==========================================================================

CPLIMIT/CALIMIT tests (guide §7.36/§7.37): a 32-bit configuration per test — bit 0
active, bit 1 logic with the next test (1 = AND, 0 = OR), bit 2 comparison (1 = "≥",
0 = "≤"), bits 5… the variable (0 = Ewe, 3 = I); combined as (Test1 op Test2) op Test3.
This reading of the bit table is confirmed by the guide's VSCANLIMIT example
(71 = AUX2 > 3 V with AND, 97 = I < 0.05 A, 101 = I > 0.1 A).

The channel ends steps natively on ``time``, ``voltage_above``/``voltage_below`` and
``current_below``. A few of those the techniques cannot express (a rest has no limits,
EIS and scans have no duration, the CC phase of a CC-CV hands on to CV on its limit); the
channel then checks them itself on the decoded points and stops the technique
(:attr:`TechniquePlan.watched`). Charge (except as a CC duration), dV/dt and shorts are the
engine's.

Not confirmed against a unit: the Exit_Cond values (0 next step, 1 next technique, 2 stop)
beyond the guide's table; that a limit test ends the technique at the point it is met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cyclerctl.plan import ConditionKind, EndCondition, Ref, Step

from ..base import check_runnable
from . import ecc_catalog as C
from . import eclib_types as T
from .eclib import Param

#: The end conditions a BioLogic channel ends a step on without the engine.
NATIVE_END_CONDITIONS = frozenset({"time", "voltage_above", "voltage_below", "current_below"})

VAR_EWE, VAR_I = 0, 3
EXIT_NEXT_TECHNIQUE = 1
#: An OCV without a time condition: this many full OCVs (≈ 4 days), then the step ends.
UNBOUNDED_CHUNKS = 8


@dataclass(frozen=True, slots=True)
class Settings:
    board_type: int = T.BOARD_ESSENTIAL
    record_every_s: float = 1.0  # Record_every_dT of every technique
    record_every_V: float = 1e-3  # Record_every_dE of scans: one point per dE of sweep
    bandwidth: int = T.BANDWIDTH_5


@dataclass(frozen=True, slots=True)
class Technique:
    ecc: C.EccFile
    params: tuple[Param, ...]
    duration_s: float | None = None  # what it runs at most (None: until it is done)
    duration_reason: str | None = None  # the step's end reason when it runs out
    limits: tuple[EndCondition, ...] = ()  # what its limit tests stand for
    ends_step: bool = True  # False: its end hands on to the next technique

    def file_name(self, board_type: int) -> str:
        return self.ecc.file_name(board_type)


@dataclass(frozen=True, slots=True)
class TechniquePlan:
    techniques: tuple[Technique, ...]
    watched: tuple[EndCondition, ...] = ()  # native conditions the channel checks itself
    done_reason: str | None = None  # "done" for a spectrum or a scan that ran to its end


def plan_step(
    step: Step, settings: Settings, elapsed_s: float = 0.0, charge_C: float = 0.0
) -> TechniquePlan:
    """The techniques that run ``step`` from ``elapsed_s`` and ``charge_C`` into it."""
    check_runnable(step)
    planner = _PLANNERS.get(step.kind)
    if planner is None:
        raise ValueError(
            f"step {step.name!r}: a BioLogic channel cannot run {step.kind} steps "
            f"(it runs {', '.join(sorted(_PLANNERS))})"
        )
    return planner(step, settings, elapsed_s, charge_C)


# -- per step kind --------------------------------------------------------------------------


def _rest(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    longest = _floor_ms(C.OCV.max_duration_s(s.board_type))
    time = _remaining_time(step, elapsed_s)
    total = longest * UNBOUNDED_CHUNKS if time is None else time
    count = max(1, math.ceil(total / longest - 1e-12))
    chunks: list[Technique] = []
    for k in range(count):
        duration = total / count
        last = k == count - 1
        params = (
            Param("Rest_time_T", duration),
            Param("Record_every_dE", 0.0),
            Param("Record_every_dT", s.record_every_s),
            Param("E_Range", T.ERANGE_AUTO),
        )
        reason = ("time" if time is not None else None) if last else None
        chunks.append(Technique(C.OCV, params, duration, reason, ends_step=last))
    watched = tuple(c for c in step.ends if c.kind in NATIVE_END_CONDITIONS - {"time"})
    return TechniquePlan(tuple(chunks), watched)


def _cc(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    current = _value(step, step.current_A, "current")
    duration, reason = _cc_duration(step, current, elapsed_s, charge_C)
    tests, overflow = _tests(step.ends, current_sign=_sign(current))
    ecc = C.CPLIMIT if tests[0] else C.CP
    technique = _stepped(
        ecc,
        s,
        "Current_step",
        current,
        duration,
        reason,
        tests,
        record=("Record_every_dE", 0.0),
        extra=(Param("I_Range", _i_range(abs(current))),),
    )
    return TechniquePlan((technique,), overflow)


def _cv(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    voltage = _value(step, step.voltage_V, "voltage")
    time = _remaining_time(step, elapsed_s)
    tests, overflow = _tests(step.ends, current_sign=0)
    ecc = C.CALIMIT if tests[0] else C.CA
    technique = _stepped(
        ecc,
        s,
        "Voltage_step",
        voltage,
        time,
        "time" if time is not None else None,
        tests,
        record=("Record_every_dI", 0.0),
        extra=(Param("I_Range", T.IRANGE_AUTO),),
    )
    return TechniquePlan((technique,), overflow)


def _cccv(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    current = _value(step, step.current_A, "current")
    voltage = _value(step, step.voltage_V, "voltage")
    sign = _sign(current)
    if sign == 0:
        raise ValueError(f"step {step.name!r}: a CC-CV step needs a current other than 0")
    time = _remaining_time(step, elapsed_s)
    switch_kind: ConditionKind = "voltage_above" if sign > 0 else "voltage_below"
    switch = EndCondition(switch_kind, voltage)
    cc_tests, _ = _tests((switch,), current_sign=sign)
    cc = _stepped(
        C.CPLIMIT,
        s,
        "Current_step",
        current,
        time,
        None,
        cc_tests,
        record=("Record_every_dE", 0.0),
        extra=(Param("I_Range", _i_range(abs(current))),),
        ends_step=False,
    )
    current_ends = tuple(c for c in step.ends if c.kind == "current_below")
    cv_tests, _ = _tests(current_ends, current_sign=sign)
    cv = _stepped(
        C.CALIMIT if cv_tests[0] else C.CA,
        s,
        "Voltage_step",
        voltage,
        time,
        None,
        cv_tests,
        record=("Record_every_dI", 0.0),
        extra=(Param("I_Range", T.IRANGE_AUTO),),
    )
    # the step's time covers both phases, and other voltage limits must end the whole step,
    # not hand on to CV: the channel watches those
    watched = tuple(
        c
        for c in step.ends
        if c.kind == "time"
        or (c.kind in ("voltage_above", "voltage_below") and c.kind != switch_kind)
    )
    return TechniquePlan((cc, cv), watched)


def _eis(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    eis = step.eis
    if eis is None:
        raise ValueError(f"step {step.name!r}: an eis step needs its eis settings")
    decades = abs(math.log10(eis.f_stop_Hz / eis.f_start_Hz))
    count = round(decades * eis.points_per_decade) + 1
    common = (
        Param("Duration_step", 0.0),
        Param("Record_every_dT", s.record_every_s),
        Param("Initial_frequency", eis.f_start_Hz),
        Param("Final_frequency", eis.f_stop_Hz),
        Param("sweep", False),  # False: logarithmic spacing
        Param("Frequency_number", count),
        Param("Average_N_times", eis.averages),
        Param("Correction", False),
        Param("Wait_for_steady", 0.0),
    )
    if eis.mode == "potentiostatic":
        at_ocv = eis.bias_V is None
        params = (
            Param("vs_initial", at_ocv),
            Param("Initial_Voltage_step", 0.0 if eis.bias_V is None else eis.bias_V),
            *common,
            Param("Record_every_dI", 0.0),
            Param("Amplitude_Voltage", eis.amplitude),
            Param("I_Range", T.IRANGE_AUTO),
            Param("E_Range", T.ERANGE_AUTO),
            Param("Bandwidth", s.bandwidth),
        )
        technique = Technique(C.PEIS, params)
    else:
        if eis.bias_V is not None:
            raise ValueError(f"step {step.name!r}: GEIS here runs at zero DC current only")
        params = (
            Param("vs_initial", False),
            Param("Initial_Current_step", 0.0),
            *common,
            Param("Record_every_dE", 0.0),
            Param("Amplitude_Current", eis.amplitude),
            # the amplitude may use at most 50 % of the range (guide §7.13.2)
            Param("I_Range", _i_range(2 * abs(eis.amplitude))),
            Param("E_Range", T.ERANGE_AUTO),
            Param("Bandwidth", s.bandwidth),
        )
        technique = Technique(C.GEIS, params)
    watched = _all_native(step, elapsed_s)
    return TechniquePlan((technique,), watched, done_reason="done")


def _sweep(step: Step, s: Settings, elapsed_s: float, charge_C: float) -> TechniquePlan:
    sweep = step.sweep
    if sweep is None:
        raise ValueError(f"step {step.name!r}: a sweep step needs its sweep settings")
    if not sweep.scan_rate_V_s > 0 or not sweep.vertices_V or sweep.cycles < 1:
        raise ValueError(
            f"step {step.name!r}: a sweep needs a scan rate > 0, a vertex and ≥ 1 cycle"
        )
    vertices = [*sweep.vertices_V] * sweep.cycles
    if len(vertices) + 1 > C.VSCAN.max_steps:
        raise ValueError(
            f"step {step.name!r}: {len(vertices)} vertices (cycles unrolled) are more than one "
            f"Voltage Scan holds ({C.VSCAN.max_steps - 1})"
        )
    from_ocv = sweep.start_V is None
    params: list[Param] = [
        Param("Voltage_step", 0.0 if sweep.start_V is None else sweep.start_V, 0),
        Param("vs_initial", from_ocv, 0),
        Param("Scan_Rate", sweep.scan_rate_V_s, 0),  # ignored for vertex 0 (guide §7.7.2)
    ]
    for k, vertex in enumerate(vertices, start=1):
        params += [
            Param("Voltage_step", vertex, k),
            Param("vs_initial", False, k),
            Param("Scan_Rate", sweep.scan_rate_V_s, k),
        ]
    params += [
        Param("Scan_number", len(vertices) - 1),  # scans minus one
        Param("N_Cycles", 0),
        Param("Record_every_dE", s.record_every_V),
        Param("Begin_measuring_I", 0.5),
        Param("End_measuring_I", 1.0),
        Param("I_Range", T.IRANGE_AUTO),
        Param("E_Range", T.ERANGE_AUTO),
        Param("Bandwidth", s.bandwidth),
    ]
    technique = Technique(C.VSCAN, tuple(params))
    return TechniquePlan((technique,), _all_native(step, elapsed_s), done_reason="done")


_PLANNERS = {"rest": _rest, "cc": _cc, "cv": _cv, "cccv": _cccv, "eis": _eis, "sweep": _sweep}


# -- pieces -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Test:
    config: int
    value: float


def _stepped(
    ecc: C.EccFile,
    s: Settings,
    setpoint_label: str,
    setpoint: float,
    duration: float | None,
    reason: str | None,
    tests: tuple[tuple[_Test, ...], tuple[EndCondition, ...]],
    *,
    record: tuple[str, float],
    extra: tuple[Param, ...],
    ends_step: bool = True,
) -> Technique:
    """CP/CA(+LIMIT): the same set point over as many steps as the duration needs."""
    longest = _floor_ms(ecc.max_duration_s(s.board_type))
    total = duration if duration is not None else longest * ecc.max_steps
    count = max(1, math.ceil(total / longest - 1e-12))
    if count > ecc.max_steps:
        raise ValueError(
            f"{total / 3600:g} h is longer than one {ecc.stem} technique can run "
            f"({ecc.max_steps} steps of {longest / 3600:.2f} h)"
        )
    test_list, limits = tests
    params: list[Param] = []
    for k in range(count):
        params += [
            Param(setpoint_label, setpoint, k),
            Param("vs_initial", False, k),
            Param("Duration_step", total / count, k),
        ]
        if ecc in (C.CPLIMIT, C.CALIMIT):
            padded = [*test_list, *[_Test(0, 0.0)] * (3 - len(test_list))]
            for n, test in enumerate(padded, start=1):
                params += [
                    Param(f"Test{n}_Config", test.config, k),
                    Param(f"Test{n}_Value", test.value, k),
                ]
            params.append(Param("Exit_Cond", EXIT_NEXT_TECHNIQUE, k))
    params += [
        Param("Step_number", count - 1),
        Param("Record_every_dT", s.record_every_s),
        Param(*record),
        Param("N_Cycles", 0),
        *extra,
        Param("E_Range", T.ERANGE_AUTO),
        Param("Bandwidth", s.bandwidth),
    ]
    return Technique(ecc, tuple(params), total, reason, limits, ends_step)


def _tests(
    ends: tuple[EndCondition, ...], *, current_sign: int
) -> tuple[tuple[tuple[_Test, ...], tuple[EndCondition, ...]], tuple[EndCondition, ...]]:
    """((the tests, the conditions they stand for), the conditions left to the channel).

    Up to three tests, combined (Test1 op Test2) op Test3: single tests are ORed; |I| < x
    with the current's sign unknown takes two, ANDed, and must come first.
    """
    atoms: list[tuple[tuple[_Test, ...], EndCondition]] = []
    for c in ends:
        value = _si(c.value)
        if c.kind in ("voltage_above", "voltage_below"):
            atoms.append(((_Test(_config(VAR_EWE, greater=c.kind == "voltage_above"), value),), c))
        elif c.kind == "current_below" and current_sign > 0:
            atoms.append(((_Test(_config(VAR_I, greater=False), value),), c))
        elif c.kind == "current_below" and current_sign < 0:
            atoms.append(((_Test(_config(VAR_I, greater=True), -value),), c))
        elif c.kind == "current_below":
            pair = (
                _Test(_config(VAR_I, greater=False, and_next=True), value),
                _Test(_config(VAR_I, greater=True), -value),
            )
            atoms.append((pair, c))
    chosen: list[tuple[tuple[_Test, ...], EndCondition]] = []
    left: list[EndCondition] = []
    used = 0
    for tests, c in sorted(atoms, key=lambda atom: -len(atom[0])):  # a pair first
        if (len(tests) == 2 and used) or used + len(tests) > 3:
            left.append(c)
            continue
        chosen.append((tests, c))
        used += len(tests)
    flat = tuple(t for tests, _ in chosen for t in tests)
    return (flat, tuple(c for _, c in chosen)), tuple(left)


def _config(variable: int, *, greater: bool, and_next: bool = False) -> int:
    return 1 | (2 if and_next else 0) | (4 if greater else 0) | (variable << 5)


def _cc_duration(
    step: Step, current: float, elapsed_s: float, charge_C: float
) -> tuple[float | None, str | None]:
    time = _remaining_time(step, elapsed_s)
    charge = step.condition("charge")
    by_charge = None
    if charge is not None and current != 0:
        by_charge = max(0.0, _si(charge.value) - abs(charge_C)) / abs(current)
    if by_charge is not None and (time is None or by_charge < time):
        return by_charge, "limit:charge"
    return time, "time" if time is not None else None


def _all_native(step: Step, elapsed_s: float) -> tuple[EndCondition, ...]:
    """The native conditions of a technique that has no limits and no duration."""
    return tuple(c for c in step.ends if c.kind in NATIVE_END_CONDITIONS)


def _remaining_time(step: Step, elapsed_s: float) -> float | None:
    times = [_si(c.value) for c in step.ends if c.kind == "time"]
    return max(0.0, min(times) - elapsed_s) if times else None


def _i_range(current_A: float) -> int:
    """The smallest I range (1 nA … 1 A, guide §5.3) that holds ``current_A``."""
    for k in range(T.IRANGE_1nA, T.IRANGE_1A + 1):
        if current_A <= 10.0 ** (k - 10) * (1 + 1e-9):
            return k
    raise ValueError(f"{current_A:g} A is beyond the 1 A range")


def _value(step: Step, value: float | Ref | None, what: str) -> float:
    if value is None:
        raise ValueError(f"step {step.name!r}: a {step.kind} step needs a {what}")
    return _si(value)


def _si(value: float | Ref) -> float:
    if isinstance(value, Ref):
        raise ValueError(f"unbound loop reference {value.variable!r}")
    return float(value)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _floor_ms(seconds: float) -> float:
    return math.floor(seconds * 1000) / 1000
