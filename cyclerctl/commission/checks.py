"""The commissioning sequence on one channel with a dummy load: each check a line of the
table, pass / fail / skip, with what was expected and what was measured.

Everything here talks to the channel directly (``stepping``): the point is to see what the
instrument does by itself. The checks that need the engine (record criteria, a safety limit
tripping) are in ``engine_checks``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from cyclerctl.drivers.base import Channel
from cyclerctl.plan import ConditionKind, EisSettings, EndCondition, RecordCriteria, Step

from .dummy import DummyLoad
from .stepping import StepResult, StepRunner

Status = Literal["pass", "fail", "skip"]

#: What an instrument's own current reading may differ from its set point by.
CURRENT_ACCURACY = 0.01
#: Step time against the wall clock: relative, plus a fixed allowance for the read latency.
TIME_BASE_ACCURACY = 0.02
TIME_BASE_SLACK_S = 0.3
#: An open-circuit reading above this is a cell (or a charged capacitor), not a dummy.
DUMMY_OCV_MAX_V = 0.05
#: EIS: relative deviation of each measured Z from the dummy's nominal Z, on top of the
#: dummy's own tolerance.
EIS_ACCURACY = 0.05
#: The CV hold's voltage, as a fraction of what the test current gives on the dummy.
HOLD_FRACTION = 0.8
#: The shortest measuring step (s); an RC dummy's steps last 10 τ.
MIN_STEP_S = 3.0


class NotADummy(ValueError):
    """The channel reads like a cell: commissioning refuses to drive it (exit 2)."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    what: str
    expected: str
    measured: str
    status: Status
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Limits:
    """What commissioning never exceeds (±10 mA, ±1 V unless told)."""

    current_A: float = 10e-3
    voltage_V: float = 1.0

    def __post_init__(self) -> None:
        if not (self.current_A > 0 and self.voltage_V > 0):
            raise ValueError("the current and voltage limits must be > 0")


@dataclass(slots=True)
class Schedule:
    """The test values for one dummy within the limits, and the steps built from them."""

    dummy: DummyLoad
    limits: Limits
    kinds: frozenset[str] = frozenset({"rest", "cc", "cv", "cccv", "eis"})
    _index: int = field(default=0)

    @property
    def step_s(self) -> float:
        """Long enough for an RC dummy to settle (10 τ), at least 3 s."""
        return max(MIN_STEP_S, 10 * self.dummy.tau_s)

    @property
    def current_A(self) -> float:
        """60 % of the voltage limit through the DC resistance, at most the current limit."""
        return min(self.limits.current_A, 0.6 * self.limits.voltage_V / self.dummy.total_ohm)

    @property
    def voltage_V(self) -> float:
        return self.current_A * self.dummy.total_ohm

    @property
    def hold_V(self) -> float:
        """A CV hold below the CC voltage, so the CC phase reaches it at once."""
        return HOLD_FRACTION * self.voltage_V

    def hold(self, *ends: EndCondition) -> Step:
        """A CV hold reached by CC at the test current (CC-CV): the current never exceeds
        the test current, whatever a capacitor in the dummy holds. A channel that runs no
        CC-CV gets a plain CV step (its own current limit then applies)."""
        if "cccv" in self.kinds:
            return self.step("cccv", "cv", *ends, current_A=self.current_A, voltage_V=self.hold_V)
        return self.step("cv", "cv", *ends, voltage_V=self.hold_V)

    def step(
        self,
        kind: Literal["rest", "cc", "cv", "cccv", "eis"],
        name: str,
        *ends: EndCondition,
        current_A: float | None = None,
        voltage_V: float | None = None,
        eis: EisSettings | None = None,
        every_s: float | None = None,
    ) -> Step:
        self._index += 1
        return Step(
            index=self._index,
            name=name,
            kind=kind,
            ends=ends,
            record=RecordCriteria(every_s=every_s),
            current_A=current_A,
            voltage_V=voltage_V,
            eis=eis,
        )


def time_end(seconds: float) -> EndCondition:
    return EndCondition("time", seconds)


def run_checks(
    channel: Channel, runner: StepRunner, seq: Schedule
) -> Iterator[Check]:
    """Every channel-level check, in order; raises :class:`NotADummy` first if the channel
    reads a cell's voltage."""
    caps = channel.capabilities
    rest = runner.run(seq.step("rest", "ocv", time_end(seq.step_s / 2)), budget_s=seq.step_s / 2)
    yield _ocv(rest)
    plus = runner.run(
        seq.step("cc", "cc+", time_end(seq.step_s), current_A=seq.current_A), budget_s=seq.step_s
    )
    minus = runner.run(
        seq.step("cc", "cc-", time_end(seq.step_s), current_A=-seq.current_A),
        budget_s=seq.step_s,
    )
    yield _sign(plus, minus)
    yield _current_scaling(seq.current_A, plus, minus)
    yield _ohms_law(seq, plus, minus)
    yield _time_base(runner, plus, seq.step_s)
    hold = runner.run(seq.hold(time_end(seq.step_s)), budget_s=seq.step_s)
    yield _cv_hold(seq, hold)
    yield from _native_ends(caps.native_end_conditions, runner, seq)
    if caps.eis and caps.frequency_range_Hz is not None:
        yield _eis(runner, seq, caps.frequency_range_Hz)
    else:
        yield Check("phase", "EIS phase sign and unit on the dummy", "-", "-", "skip",
                    "the channel does not measure impedance")


def _mean(result: StepResult, column: str, *, tail: float = 0.5) -> float:
    values = result.points[column]
    if len(values) == 0:
        return math.nan
    return float(np.mean(values[int(len(values) * (1 - tail)) :] if len(values) > 1 else values))


def _ocv(rest: StepResult) -> Check:
    if not len(rest.points):
        return Check("ocv", "open-circuit reading", f"|V| ≤ {DUMMY_OCV_MAX_V * 1e3:g} mV",
                     "no points", "fail", "the channel returned no data at rest")
    v = _mean(rest, "V", tail=1.0)
    if abs(v) > DUMMY_OCV_MAX_V:
        raise NotADummy(
            f"the channel reads {v:.4g} V at open circuit, like a cell, not a dummy load "
            f"(a dummy reads within ±{DUMMY_OCV_MAX_V * 1e3:g} mV); commissioning drives "
            "currents a cell must not see: connect the dummy load and run again"
        )
    return Check("ocv", "open-circuit reading", f"|V| ≤ {DUMMY_OCV_MAX_V * 1e3:g} mV",
                 f"{v * 1e3:+.2f} mV", "pass")


def _sign(plus: StepResult, minus: StepResult) -> Check:
    signs = (
        np.sign(_mean(plus, "I")), np.sign(_mean(plus, "V")),
        np.sign(_mean(minus, "I")), np.sign(_mean(minus, "V")),
    )
    ok = signs == (1.0, 1.0, -1.0, -1.0)
    return Check(
        "current_sign", "charge is positive: +I raises V on a resistor",
        "+I → I>0, V>0; −I → I<0, V<0",
        f"+I → I{_s(signs[0])}, V{_s(signs[1])}; −I → I{_s(signs[2])}, V{_s(signs[3])}",
        "pass" if ok else "fail",
        "" if ok else "the driver's current sign is the opposite of charge-positive",
    )


def _s(sign: float) -> str:
    return ">0" if sign > 0 else "<0" if sign < 0 else "=0"


def _current_scaling(setpoint: float, plus: StepResult, minus: StepResult) -> Check:
    worst = max(
        abs(_mean(plus, "I", tail=1.0) / setpoint - 1),
        abs(_mean(minus, "I", tail=1.0) / -setpoint - 1),
    )
    ok = worst <= CURRENT_ACCURACY
    measured = _mean(plus, "I", tail=1.0)
    return Check(
        "current_scaling", "measured I against the set I",
        f"{setpoint * 1e3:.4g} mA ±{CURRENT_ACCURACY:.0%}",
        f"{measured * 1e3:.4g} mA (worst {worst:.2%})" if math.isfinite(worst) else "no points",
        "pass" if ok else "fail",
        "" if ok else "the current reads in the wrong unit or range (A vs mA?)",
    )


def _ohms_law(seq: Schedule, plus: StepResult, minus: StepResult) -> Check:
    """V against the dummy's response to the held current (the RC's charging included),
    point by point over each step's second half; the ratio is the resistance seen."""
    dummy = seq.dummy
    ratios = []
    for result, current in ((plus, seq.current_A), (minus, -seq.current_A)):
        pts = result.points[len(result.points) // 2 :]
        if not len(pts):
            continue
        expected = dummy.voltage_under_current(current, pts["t"])
        ratios.append(float(np.mean(pts["V"]) / np.mean(expected)))
    tol = dummy.dc_tolerance + CURRENT_ACCURACY
    if not ratios:
        return Check("voltage_scaling", "Ohm's law on the dummy", "-", "no points", "fail")
    worst = max(abs(r - 1) for r in ratios)
    seen = dummy.total_ohm * float(np.mean(ratios))
    ok = worst <= tol
    return Check(
        "voltage_scaling", "Ohm's law: V/I on the dummy",
        f"{dummy.total_ohm:.5g} Ω ±{tol:.1%}", f"{seen:.5g} Ω ({worst:+.2%})",
        "pass" if ok else "fail",
        "" if ok else "V or I is mis-scaled, or the dummy is not what --dummy says",
    )


def _time_base(runner: StepRunner, plus: StepResult, duration_s: float) -> Check:
    """The step time the instrument reports against the wall-clock time it took.

    The step cannot end before its time has passed on the wall clock; it may be seen up to
    one sample interval plus a poll and a read later.
    """
    if runner.virtual:
        return Check("time_base", "step time against the wall clock", "-", "virtual clock",
                     "skip", "the channel runs on a simulated clock")
    wall = plus.wall_s * runner.speed
    step_t = plus.last_t
    t = plus.points["t"]
    sample_s = float(np.median(np.diff(t))) if len(t) > 2 else duration_s
    late = TIME_BASE_ACCURACY * duration_s + sample_s + TIME_BASE_SLACK_S * runner.speed
    early = TIME_BASE_ACCURACY * duration_s
    ok = step_t > 0 and -early <= wall - step_t <= late
    return Check(
        "time_base", "step time against the wall clock",
        f"{step_t:.2f} s of step in {step_t - early:.2f}…{step_t + late:.2f} s of wall clock",
        f"{wall:.2f} s",
        "pass" if ok else "fail",
        "" if ok else "the instrument's step time does not follow the wall clock",
    )


def _cv_hold(seq: Schedule, hold: StepResult) -> Check:
    v = _mean(hold, "V", tail=0.3)
    i = _mean(hold, "I", tail=0.3)
    expected_i = seq.hold_V / seq.dummy.total_ohm
    tol = seq.dummy.dc_tolerance + CURRENT_ACCURACY
    ok = (
        math.isfinite(v)
        and abs(v / seq.hold_V - 1) <= CURRENT_ACCURACY
        and abs(i / expected_i - 1) <= tol
    )
    return Check(
        "cv_hold", "CV hold: V held, I = V/R",
        f"{seq.hold_V * 1e3:.4g} mV, {expected_i * 1e3:.4g} mA ±{tol:.1%}",
        f"{v * 1e3:.4g} mV, {i * 1e3:.4g} mA",
        "pass" if ok else "fail",
    )


@dataclass(frozen=True, slots=True)
class _EndCase:
    kind: ConditionKind
    build: Callable[[Schedule], Step]
    #: step time by which the condition must have fired (s), from the dummy's response
    due_s: Callable[[Schedule], float]


def _after_fraction(seq: Schedule, fraction: float) -> float:
    """When V under +I reaches ``fraction`` of its settled value."""
    d = seq.dummy
    if not d.has_arc:
        return 0.0
    rc_part = (fraction * d.total_ohm - d.series_ohm) / d.resistance_ohm
    return 0.0 if rc_part <= 0 else -d.tau_s * math.log(1 - rc_part)


_END_CASES = (
    _EndCase("time", lambda s: s.step("cc", "end:time", time_end(1.0), current_A=s.current_A),
             lambda s: 1.0),
    _EndCase("charge", lambda s: s.step(
        "cc", "end:charge", EndCondition("charge", s.current_A * 1.0), time_end(10.0),
        current_A=s.current_A), lambda s: 1.0),
    _EndCase("voltage_above", lambda s: s.step(
        "cc", "end:voltage_above", EndCondition("voltage_above", 0.5 * s.voltage_V),
        time_end(10.0), current_A=s.current_A), lambda s: _after_fraction(s, 0.5)),
    _EndCase("voltage_below", lambda s: s.step(
        "cc", "end:voltage_below", EndCondition("voltage_below", -0.5 * s.voltage_V),
        time_end(10.0), current_A=-s.current_A), lambda s: _after_fraction(s, 0.5)),
    _EndCase("current_below", lambda s: s.hold(
        EndCondition("current_below", 0.5 * (1 + HOLD_FRACTION) * s.current_A), time_end(10.0)),
        lambda s: 5 * s.dummy.tau_s),
)
#: After the condition is due: a few of the instrument's own samples.
END_SLACK_S = 2.5


def _native_ends(
    native: frozenset[str], runner: StepRunner, seq: Schedule
) -> Iterator[Check]:
    cases = [c for c in _END_CASES if c.kind in native]
    if not cases:
        yield Check("native_ends", "end conditions the instrument fires itself", "-",
                    "none declared", "skip", "host-sequenced: the engine ends every step")
        return
    for case in cases:
        due = case.due_s(seq) + END_SLACK_S
        result = runner.run(case.build(seq), budget_s=due + 2.0)
        expected_reason = EndCondition(case.kind, 0.0).reason
        ok = (
            result.ended_by_channel
            and result.end_reason == expected_reason
            and result.last_t <= due
        )
        measured = (
            f"ended by the channel at {result.last_t:.2f} s ({result.end_reason})"
            if result.ended_by_channel
            else f"not ended by the channel after {result.last_t:.2f} s"
        )
        yield Check(
            f"native_end:{case.kind}", f"the channel ends a step on {case.kind} itself",
            f"{expected_reason} by {due:.2f} s", measured, "pass" if ok else "fail",
        )


def _eis(runner: StepRunner, seq: Schedule, f_range: tuple[float, float]) -> Check:
    dummy = seq.dummy
    apex = dummy.apex_frequency_Hz
    f_lo, f_hi = f_range
    top = min(f_hi, max(1e3, 100 * apex) if apex else 1e4)
    bottom = max(f_lo, 1.0, apex / 3 if apex else 10.0)
    amplitude = min(0.01, 0.5 * seq.limits.voltage_V)
    settings = EisSettings("potentiostatic", top, bottom, amplitude, 5, bias_V=None)
    result = runner.run(seq.step("eis", "eis", eis=settings), budget_s=600.0)
    z = result.impedance
    if not len(z):
        return Check("phase", "EIS on the dummy: phase sign and unit", "a spectrum", "none",
                     "fail", "the EIS step returned no impedance points")
    measured = z["Zre"] + 1j * z["Zim"]
    nominal = dummy.impedance(z["f"])
    deviation = np.abs(measured - nominal) / np.abs(nominal)
    tol = EIS_ACCURACY + dummy.dc_tolerance + (dummy.capacitance_tolerance if dummy.has_arc else 0)
    worst = float(np.max(deviation))
    capacitive = bool(np.all(-z["Zim"] >= -0.01 * np.abs(nominal)))
    if not dummy.has_arc:
        ok = worst <= tol
        return Check(
            "phase", "EIS on a resistor: |Z| = R, phase 0", f"|ΔZ|/|Z| ≤ {tol:.0%}",
            f"worst {worst:.1%} over {len(z)} points", "pass" if ok else "fail",
            "phase unit unconfirmed: a plain resistor has no phase; use an RC dummy",
        )
    peak = float(np.max(-z["Zim"]))
    inductive = int(np.sum(-z["Zim"] < -0.01 * np.abs(nominal)))
    ok = worst <= tol and capacitive
    problems = []
    if inductive:
        problems.append(f"−Z″ < 0 at {inductive} of {len(z)} points (phase sign)")
    if worst > tol:
        problems.append("Z off the dummy's arc: phase in the wrong unit (degrees vs radians) or |Z|"
                        " mis-scaled")
    return Check(
        "phase", "EIS on the RC dummy: the arc's sign, size and phase unit",
        f"−Z″ > 0, apex ≈ {dummy.resistance_ohm / 2:.4g} Ω near {apex:.3g} Hz, "
        f"|ΔZ|/|Z| ≤ {tol:.0%}",
        f"max −Z″ {peak:.4g} Ω, worst {worst:.1%} over {len(z)} points",
        "pass" if ok else "fail",
        "; ".join(problems),
    )
