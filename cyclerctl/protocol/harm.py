"""Refuse, at validate time, a protocol that would harm the cell or never end.

Checked on the compiled steps (SI floats; a ramped value is checked at every value the
loop gives it), each error on the line and field of the protocol file it comes from:

- a current above what the channel may source (the config's hard ``current_max`` and the
  driver's range, when validating for a channel) or the cell's ``current_max``;
- a voltage the protocol holds, sweeps to or waits for outside the cell's window
  (``voltage_min`` / ``voltage_max`` of the cell file) or the channel's, and a ``[safety]``
  voltage window wider than the cell's (it would let the cell be harmed before it trips).
  A step past the protocol's own safety window is allowed: tripping it on purpose is how a
  lab tests its safety stops;
- a step that can never end (a cv step with nothing but voltage conditions, a charge
  condition at rest or at zero current, a voltage condition against the current's
  direction) or that ends the moment it starts (a ``current_below`` already met), which
  inside a loop spins without progress.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from cyclerctl.plan import CellSummary, Node, Ref, SafetyLimit, Step, Value, walk_with_ramps

from .errors import ErrorSink, KeyPath


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What the channel a protocol is validated for allows (None: not limited there)."""

    name: str  # "sim:1", for messages
    current_max_A: float | None = None
    voltage_min_V: float | None = None
    voltage_max_V: float | None = None
    source: str = ""  # where the limits come from, e.g. "lab.toml instruments[1].limits"


@dataclass(frozen=True, slots=True)
class _Window:
    """One layer of limits, and how a message names it."""

    what: str  # "the cell 'NCM622 coin'", "channel sim:1"
    voltage_min_V: float | None
    voltage_max_V: float | None
    current_max_A: float | None
    source: str = ""  # where the limits were set, when not in the protocol or cell file

    def of(self, name: str, value: str) -> str:
        """``the voltage_max of channel sim:1 (4.4 V; lab.toml …)``."""
        source = f"; {self.source}" if self.source else ""
        return f"the {name} of {self.what} ({value}{source})"


def check_harm(
    body: tuple[Node, ...],
    paths: Sequence[KeyPath],
    safety: tuple[SafetyLimit, ...],
    cell: CellSummary,
    channel: ChannelLimits | None,
    sink: ErrorSink,
) -> None:
    """Add to ``sink`` every way the plan could harm the cell or never end."""
    limit: dict[str, float] = {s.quantity: s.value for s in safety}
    windows = [
        _Window(
            f"the cell {cell.name!r}",
            cell.voltage_min_V,
            cell.voltage_max_V,
            cell.current_max_A,
        )
    ]
    if channel is not None:
        windows.append(
            _Window(
                f"channel {channel.name}",
                channel.voltage_min_V,
                channel.voltage_max_V,
                channel.current_max_A,
                source=channel.source,
            )
        )
    _safety_within_cell(limit, windows[0], sink)
    checker = _Checker(sink, paths, windows)
    for step, ramps in walk_with_ramps(body):
        checker.step(step, ramps)


def _safety_within_cell(limit: Mapping[str, float], cell: _Window, sink: ErrorSink) -> None:
    """A safety window wider than the cell's would let the cell be harmed before it trips."""
    high, low = limit.get("voltage_max"), limit.get("voltage_min")
    if high is not None and cell.voltage_max_V is not None and high > cell.voltage_max_V:
        sink.add(
            ("safety", "voltage_max"),
            f"{_v(high)} is above {cell.of('voltage_max', _v(cell.voltage_max_V))}",
        )
    if low is not None and cell.voltage_min_V is not None and low < cell.voltage_min_V:
        sink.add(
            ("safety", "voltage_min"),
            f"{_v(low)} is below {cell.of('voltage_min', _v(cell.voltage_min_V))}",
        )


def _values(value: Value | None, ramps: Mapping[str, tuple[float, ...]]) -> list[float]:
    """Every value a field takes: one, or one per loop iteration for a ramped field."""
    if value is None:
        return []
    if isinstance(value, float | int):
        return [float(value)]
    return [value.factor * v for v in ramps.get(value.variable, ())]


def _v(volts: float) -> str:
    return f"{volts:.4g} V"


def _a(amps: float) -> str:
    return f"{amps * 1e3:.4g} mA"


class _Checker:
    def __init__(self, sink: ErrorSink, paths: Sequence[KeyPath], windows: list[_Window]):
        self.sink = sink
        self.paths = paths
        self.windows = windows

    def step(self, step: Step, ramps: Mapping[str, tuple[float, ...]]) -> None:
        path = self.paths[step.index]
        currents = _values(step.current_A, ramps)
        if currents:
            self.current(max(abs(c) for c in currents), (*path, "current"))
        if step.kind in ("cv", "cccv"):
            for volts in _values(step.voltage_V, ramps):
                if self.voltage(volts, (*path, "voltage"), "holds"):
                    break
        if step.sweep is not None:
            vertices = step.sweep.vertices_V
            for i, volts in enumerate(vertices):
                at: KeyPath = (*path, "to", i) if len(vertices) > 1 else (*path, "to")
                self.voltage(volts, at, "sweeps to")
            if step.sweep.start_V is not None:
                self.voltage(step.sweep.start_V, (*path, "from"), "sweeps from")
        if step.eis is not None:
            if step.eis.bias_V is not None:
                self.voltage(step.eis.bias_V, (*path, "bias"), "holds")
            if step.eis.mode == "galvanostatic":
                self.current(step.eis.amplitude, (*path, "amplitude"))
        for kind, word in (("voltage_above", "waits for"), ("voltage_below", "waits for")):
            condition = step.condition(kind)  # type: ignore[arg-type]
            if condition is not None:
                for volts in _values(condition.value, ramps):
                    if self.voltage(volts, (*path, "until", kind), word):
                        break
        if step.ends:
            self.ending(step, ramps, (*path, "until"))

    def current(self, top: float, at: KeyPath) -> None:
        for w in self.windows:
            if w.current_max_A is not None and top > w.current_max_A:
                self.sink.add(
                    at,
                    f"|I| = {_a(top)} is above {w.of('current_max', _a(w.current_max_A))}",
                )
                return

    def voltage(self, volts: float, at: KeyPath, verb: str) -> bool:
        """Report ``volts`` outside a window (once per field); True when it was."""
        for w in self.windows:
            for bound, above in ((w.voltage_max_V, True), (w.voltage_min_V, False)):
                if bound is None or (volts <= bound if above else volts >= bound):
                    continue
                side, name = ("above", "voltage_max") if above else ("below", "voltage_min")
                self.sink.add(
                    at,
                    f"the step {verb} {_v(volts)}, {side} {w.of(name, _v(bound))}",
                )
                return True
        return False

    def ending(
        self,
        step: Step,
        ramps: Mapping[str, tuple[float, ...]],
        at: KeyPath,
    ) -> None:
        kinds: set[str] = {c.kind for c in step.ends}
        if step.kind == "cv" and not kinds & {"current_below", "time", "charge"}:
            self.sink.add(
                at,
                "a cv step holds the voltage, so only current_below, time or charge can end "
                'it; add one, e.g. time = "1 h"',
            )
            return
        if step.kind == "rest":
            if "current_below" in kinds:
                self.sink.add(
                    (*at, "current_below"),
                    "no current flows at rest: the step would end the moment it starts",
                )
            elif not kinds & {"time", "voltage_above", "voltage_below", "dvdt_below"}:
                self.sink.add(
                    at,
                    "no current flows at rest, so charge cannot end it and nothing else "
                    'would; add time, e.g. time = "1 h"',
                )
            return
        if step.kind != "cc":
            return  # cccv's CV part is checked where it is compiled; the rest end by design
        for variables in _bindings(step, ramps):
            bound = step.bind(variables)
            if self.cc_ending(bound, kinds, at):
                return

    def cc_ending(self, step: Step, kinds: set[str], at: KeyPath) -> bool:
        """Report a cc step (bound) that ends at once or never; True when it was."""
        current = step.current_A
        assert isinstance(current, float | int)
        below = step.condition("current_below")
        if (
            below is not None
            and isinstance(below.value, float | int)
            and below.value > abs(current)
        ):
            self.sink.add(
                (*at, "current_below"),
                f"|I| = {_a(abs(current))} is already below {_a(below.value)}: "
                "the step would end the moment it starts",
            )
            return True
        reachable = (
            kinds & {"time", "dvdt_below"}
            or ("charge" in kinds and current != 0)
            or ("voltage_above" in kinds and current > 0)
            or ("voltage_below" in kinds and current < 0)
        )
        if reachable:
            return False
        why = (
            "at zero current no voltage or charge condition can be met"
            if current == 0
            else "charging (I > 0) raises the voltage, so voltage_below is never met"
            if current > 0
            else "discharging (I < 0) lowers the voltage, so voltage_above is never met"
        )
        self.sink.add(at, f'the step can never end: {why}; add time, e.g. time = "1 h"')
        return True


#: Past this many combinations of loop-variable values a step is not judged per iteration.
MAX_BINDINGS = 10_000


def _bindings(step: Step, ramps: Mapping[str, tuple[float, ...]]) -> Iterator[dict[str, float]]:
    """Every combination of the loop-variable values a step uses (one empty one if none)."""
    used = sorted(
        {
            v.variable
            for v in (step.current_A, step.voltage_V, *(c.value for c in step.ends))
            if isinstance(v, Ref)
        }
    )
    count = 1
    for name in used:
        count *= len(ramps.get(name, ()))
    if count > MAX_BINDINGS:
        return
    for values in itertools.product(*(ramps.get(name, ()) for name in used)):
        yield dict(zip(used, values, strict=True))
