"""The compiled Plan: what the engine executes and the drivers receive.

A Plan is the protocol file + cell file + ``--set`` overrides, resolved to SI floats
(A, V, s, C, Ω, K, Hz, m, kg). Loops keep their structure; a value that depends on a
loop variable (a current-density ramp) stays a :class:`Ref` until the engine binds it for
one iteration with :meth:`Step.bind`. Drivers only ever see bound steps (all floats).

Sign convention: positive current charges the working electrode (oxidises it: charging a
cathode-vs-Li cell, stripping Li from a Li working electrode); negative current discharges
it (plating Li onto Cu is negative).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["rest", "cc", "cv", "cccv", "eis", "sweep", "chamber"]
ConditionKind = Literal[
    "voltage_above",
    "voltage_below",
    "current_below",
    "time",
    "charge",
    "dvdt_below",
    "short",
]

#: The end reason recorded when a condition of this kind ends a step.
#: End reasons after which the run cannot go on: the cell is shorted, or the chamber never
#: reached the temperature the next measurement needs. The run ends with this reason.
RUN_ENDING_REASONS = frozenset({"short", "timeout:chamber"})

END_REASON: dict[str, str] = {
    "voltage_above": "limit:voltage",
    "voltage_below": "limit:voltage",
    "current_below": "limit:current",
    "time": "time",
    "charge": "limit:charge",
    "dvdt_below": "limit:dvdt",
    "short": "short",
}


@dataclass(frozen=True, slots=True)
class Ref:
    """A value that follows a loop variable: ``SI value = factor × variable``."""

    variable: str
    factor: float = 1.0

    def resolve(self, variables: Mapping[str, float]) -> float:
        try:
            return self.factor * variables[self.variable]
        except KeyError:
            raise KeyError(f"loop variable {self.variable!r} is not bound here") from None


Value = float | Ref


def _bind_value(value: Value | None, variables: Mapping[str, float]) -> float | None:
    if isinstance(value, Ref):
        return value.resolve(variables)
    return value


def _bind_required(value: Value, variables: Mapping[str, float]) -> float:
    return value.resolve(variables) if isinstance(value, Ref) else value


@dataclass(frozen=True, slots=True)
class EndCondition:
    """One way a step may end; any condition of a step that is met ends it.

    ``value`` units by kind: voltage_* V; current_below A (on |I|); time s; charge C (on
    |Q| passed in the step); dvdt_below V/s (on |dV/dt| over ``window_s``); short: the
    fraction of the step's settled |V| below which a sudden collapse counts as a short.
    """

    kind: ConditionKind
    value: Value
    window_s: float = 0.0

    @property
    def reason(self) -> str:
        return END_REASON[self.kind]

    def bind(self, variables: Mapping[str, float]) -> EndCondition:
        if isinstance(self.value, Ref):
            return dataclasses.replace(self, value=self.value.resolve(variables))
        return self


@dataclass(frozen=True, slots=True)
class RecordCriteria:
    """Store a point when any of these has changed since the last stored point."""

    every_s: float | None = None
    delta_V: float | None = None
    delta_I: float | None = None


@dataclass(frozen=True, slots=True)
class EisSettings:
    mode: Literal["potentiostatic", "galvanostatic"]
    f_start_Hz: float
    f_stop_Hz: float
    amplitude: float  # V (potentiostatic) or A (galvanostatic), peak
    points_per_decade: int
    averages: int = 1
    bias_V: float | None = None  # None: at open-circuit voltage


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """Linear sweep (one vertex) or cyclic voltammetry (several vertices, ``cycles``)."""

    scan_rate_V_s: float
    vertices_V: tuple[float, ...]
    start_V: float | None = None  # None: from open-circuit voltage
    cycles: int = 1


@dataclass(frozen=True, slots=True)
class ChamberSettings:
    """Set a temperature chamber and wait until it is stable there.

    Stable: the chamber's temperature stays within ``tolerance_K`` of the set point for
    ``soak_s``. ``timeout_s`` after the step starts without that, the step ends with reason
    ``timeout:chamber`` and the run stops (a measurement at the wrong temperature is worse
    than none). The channel rests at open circuit meanwhile.
    """

    setpoint_K: Value
    tolerance_K: float = 0.5
    soak_s: float = 1800.0
    timeout_s: float = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # position in Plan.steps; stable across loop iterations (checkpoints use it)
    name: str
    kind: StepKind
    ends: tuple[EndCondition, ...] = ()
    record: RecordCriteria = field(default_factory=RecordCriteria)
    current_A: Value | None = None  # cc, cccv: signed
    voltage_V: Value | None = None  # cv, cccv: the held voltage
    eis: EisSettings | None = None
    sweep: SweepSettings | None = None
    chamber: ChamberSettings | None = None
    resumable: bool = True  # False: after a crash the run ends `interrupted` in this step
    c_rate: float | None = None  # for display: |I| / nominal capacity, in 1/h
    line: int | None = None  # line of the step in the protocol file, for messages

    @property
    def is_bound(self) -> bool:
        return (
            not isinstance(self.current_A, Ref)
            and not isinstance(self.voltage_V, Ref)
            and (self.chamber is None or not isinstance(self.chamber.setpoint_K, Ref))
            and all(not isinstance(c.value, Ref) for c in self.ends)
        )

    def bind(self, variables: Mapping[str, float]) -> Step:
        """This step with every loop-variable reference replaced by its value."""
        if self.is_bound:
            return self
        return dataclasses.replace(
            self,
            current_A=_bind_value(self.current_A, variables),
            voltage_V=_bind_value(self.voltage_V, variables),
            ends=tuple(c.bind(variables) for c in self.ends),
            chamber=None
            if self.chamber is None
            else dataclasses.replace(
                self.chamber, setpoint_K=_bind_required(self.chamber.setpoint_K, variables)
            ),
        )

    def condition(self, kind: ConditionKind) -> EndCondition | None:
        for c in self.ends:
            if c.kind == kind:
                return c
        return None


@dataclass(frozen=True, slots=True)
class Loop:
    """Repeat ``body`` ``count`` times.

    With ``variable`` set, iteration k binds it to ``values[k]`` (SI). With
    ``counts_cycles``, each iteration is one cycle: the cycle number advances at its start.
    """

    name: str
    count: int
    body: tuple[Node, ...]
    variable: str | None = None
    values: tuple[float, ...] = ()
    counts_cycles: bool = True
    line: int | None = None


Node = Step | Loop


@dataclass(frozen=True, slots=True)
class SafetyLimit:
    """A hard stop: ``quantity`` past ``value`` for longer than ``hold_s`` stops the channel."""

    quantity: Literal["voltage_max", "voltage_min", "current_max", "temperature_max"]
    value: float  # V, V, A (on |I|), K
    hold_s: float = 0.0

    @property
    def reason(self) -> str:
        return f"safety:{self.quantity}"


@dataclass(frozen=True, slots=True)
class CellSummary:
    name: str
    chemistry: str
    area_m2: float
    nominal_capacity_Ah: float | None
    active_mass_kg: float | None = None
    specific_capacity_Ah_kg: float | None = None
    thickness_m: float | None = None
    sim: Mapping[str, Any] = field(default_factory=dict)  # the [sim] table, values as written
    source: str = ""  # path or library name the cell came from
    # The cell's own window, when its file gives one: a protocol outside it is refused.
    voltage_min_V: float | None = None
    voltage_max_V: float | None = None
    current_max_A: float | None = None  # on |I|


@dataclass(frozen=True, slots=True)
class Plan:
    protocol_name: str
    description: str
    protocol_text: str
    protocol_sha256: str
    protocol_source: str  # path or library name
    parameters: Mapping[str, Any]  # resolved parameters as the user sees them (strings/ints)
    cell: CellSummary
    cell_text: str
    safety: tuple[SafetyLimit, ...]
    record: RecordCriteria
    body: tuple[Node, ...]
    steps: tuple[Step, ...]  # every Step node, in file order; steps[i].index == i
    analysis: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"kind": "cycling", ...}
    estimated_duration_s: float | None = None


def walk(nodes: tuple[Node, ...]) -> Iterator[Step]:
    """Every Step node in file order (loops entered once)."""
    for node in nodes:
        if isinstance(node, Loop):
            yield from walk(node.body)
        else:
            yield node


def walk_with_ramps(
    nodes: tuple[Node, ...], ramps: Mapping[str, tuple[float, ...]] | None = None
) -> Iterator[tuple[Step, Mapping[str, tuple[float, ...]]]]:
    """Every Step node in file order, with the values each loop variable in scope takes
    (a ramp's list): what a check must try a step with."""
    for node in nodes:
        if isinstance(node, Loop):
            inner = dict(ramps or {})
            if node.variable is not None:
                inner[node.variable] = node.values
            yield from walk_with_ramps(node.body, inner)
        else:
            yield node, ramps or {}
