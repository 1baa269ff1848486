"""Steps and loops of a protocol file → Step and Loop nodes of the Plan."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from cyclerctl.plan import (
    CellSummary,
    ChamberSettings,
    EisSettings,
    EndCondition,
    Loop,
    Node,
    RecordCriteria,
    Step,
    SweepSettings,
    Value,
)

from .errors import ErrorSink, KeyPath
from .model import (
    AnyStep,
    CccvStep,
    CcStep,
    ChamberStep,
    CvStep,
    EisStep,
    LoopStep,
    LoopVariable,
    Record,
    ShortDetection,
    SweepStep,
    Until,
    WindowedValue,
)
from .parameters import ResolvedParameter
from .units import CHARGE_KINDS, CURRENT_KINDS
from .values import RampVariable, ValueReader

#: Kinds a loop variable may ramp (each converts to its fields' SI unit by a factor).
RAMP_KINDS = (
    "current_density",
    "current",
    "c_rate",
    "voltage",
    "time",
    "charge",
    "areal_charge",
    "temperature",
)
#: Above this a chamber tolerance is surely a temperature written in degC, not a difference.
MAX_TOLERANCE_K = 20.0
MAX_RAMP_VALUES = 100_000
#: More iterations than any real test runs (a cycle a minute for two years): a loop counted
#: past it (alone, or with the loops around it) is a typo that would hold a channel forever.
MAX_LOOP_COUNT = 1_000_000
#: Beyond these an EIS or a sweep would take longer than any cell lasts (and than a plan
#: takes to print): 1000 points per decade, 1000 averages per point, 10000 CV cycles.
MAX_POINTS_PER_DECADE = MAX_AVERAGES = 1000
MAX_SWEEP_CYCLES = 10_000
DVDT_WINDOW_S = 60.0  # dv/dt is judged over this window unless the file gives one
SHORT_FRACTION, SHORT_WINDOW_S = 0.2, 1.0
#: End conditions in the order they are listed: limits first, the time cap last.
CONDITION_ORDER = (
    "voltage_above",
    "voltage_below",
    "current_below",
    "charge",
    "dvdt_below",
    "short",
    "time",
)


class StepCompiler(ValueReader):
    """Compiles steps in file order; ``steps`` collects them with their flat index."""

    def __init__(
        self,
        sink: ErrorSink,
        parameters: Mapping[str, ResolvedParameter],
        declared: set[str],
        cell: CellSummary,
    ) -> None:
        super().__init__(sink, parameters, declared, cell)
        self.steps: list[Step] = []
        self.paths: list[KeyPath] = []  # where each of ``steps`` is written in the file
        self.outer_iterations = 1  # how often the loops around the current node run it
        self.record_base = RecordCriteria()

    def record(self, record: Record | None, path: KeyPath, base: RecordCriteria) -> RecordCriteria:
        if record is None:
            return base
        every = delta_V = delta_I = None
        if record.every is not None:
            every = self.number(record.every, (*path, "every"), ("time",), positive=True)
        if record.voltage_change is not None:
            delta_V = self.number(
                record.voltage_change, (*path, "voltage_change"), ("voltage",), positive=True
            )
        if record.current_change is not None:
            delta_I = self.number(
                record.current_change, (*path, "current_change"), CURRENT_KINDS, positive=True
            )
        return RecordCriteria(
            every_s=base.every_s if every is None else every,
            delta_V=base.delta_V if delta_V is None else delta_V,
            delta_I=base.delta_I if delta_I is None else delta_I,
        )

    def nodes(self, models: Sequence[AnyStep], path: KeyPath) -> tuple[Node, ...]:
        out: list[Node] = []
        for i, model in enumerate(models):
            node = (
                self.loop(model, (*path, i))
                if isinstance(model, LoopStep)
                else self.step(model, (*path, i))
            )
            if node is not None:
                out.append(node)
        return tuple(out)

    def loop(self, model: LoopStep, path: KeyPath) -> Loop | None:
        variable: RampVariable | None = None
        count: int | None = None
        if model.variable is not None:
            if model.count is not None:
                self.sink.add(
                    (*path, "count"),
                    "a loop with a variable counts start, step and stop; remove count",
                )
            variable = self.ramp(model.variable, (*path, "variable"))
            count = None if variable is None else len(variable.values)
        elif model.count is None:
            self.sink.add((*path, "count"), "a loop needs a count (or a variable to ramp)")
        else:
            count = self.whole(model.count, (*path, "count"), "loop count", maximum=MAX_LOOP_COUNT)
        if count is not None and self.outer_iterations * count > MAX_LOOP_COUNT:
            self.sink.add(
                (*path, "variable" if model.variable is not None else "count"),
                f"inside the loops around it this loop runs {self.outer_iterations * count} "
                f"times; at most {MAX_LOOP_COUNT} iterations in all are allowed",
            )
            count = None
        if variable is not None:
            self.scopes.append(variable)
        outer = self.outer_iterations
        self.outer_iterations *= count or 1
        body = self.nodes(model.steps, (*path, "steps"))
        self.outer_iterations = outer
        if variable is not None:
            self.scopes.pop()
        if count is None:
            return None
        counts_cycles = (
            model.cycles if model.cycles is not None else not any(isinstance(n, Loop) for n in body)
        )
        return Loop(
            name=model.name or "loop",
            count=count,
            body=body,
            variable=None if variable is None else variable.name,
            values=() if variable is None else variable.values,
            counts_cycles=counts_cycles,
            line=self.sink.line_of(path),
        )

    def ramp(self, spec: LoopVariable, path: KeyPath) -> RampVariable | None:
        if spec.name in self.declared or any(v.name == spec.name for v in self.scopes):
            self.sink.add(
                (*path, "name"), f"'{spec.name}' is already a parameter or an outer loop variable"
            )
            return None
        if spec.values is not None:
            if any(v is not None for v in (spec.start, spec.step, spec.stop)):
                self.sink.add(path, "give either values, or start, step and stop; not both")
                return None
            return self.listed(spec, path)
        missing = [k for k in ("start", "step", "stop") if getattr(spec, k) is None]
        if missing:
            self.sink.add(
                (*path, missing[0]),
                "a loop variable needs start, step and stop, or a list of values",
            )
            return None
        assert spec.start is not None and spec.step is not None and spec.stop is not None
        start_use = self.use(spec.start, (*path, "start"))
        start = None if start_use is None else self.parse(start_use, (*path, "start"), RAMP_KINDS)
        if start is None:
            return None
        kind = start[0]
        parsed: list[float] = []
        for key in ("step", "stop"):
            use = self.use(getattr(spec, key), (*path, key))
            got = None if use is None else self.parse(use, (*path, key), (kind,))
            if got is None:
                return None
            parsed.append(got[1])
        first, step, stop = start[1], parsed[0], parsed[1]
        if step == 0:
            self.sink.add((*path, "step"), "the step of a ramp cannot be zero")
            return None
        span = (stop - first) / step
        if span < -1e-9:
            self.sink.add(
                (*path, "stop"), f"stop cannot be reached from start in steps of {spec.step!r}"
            )
            return None
        count = math.floor(span + 1e-6) + 1  # stop is included when within rounding
        if count > MAX_RAMP_VALUES:
            self.sink.add(
                path, f"the ramp has {count} values; at most {MAX_RAMP_VALUES} are allowed"
            )
            return None
        return RampVariable(spec.name, kind, tuple(first + k * step for k in range(count)))

    def listed(self, spec: LoopVariable, path: KeyPath) -> RampVariable | None:
        """A loop variable over a list: literal quantities or a list parameter."""
        at: KeyPath = (*path, "values")
        texts: list[tuple[str, KeyPath]] = []
        if isinstance(spec.values, list):
            texts = [(text, (*at, i)) for i, text in enumerate(spec.values)]
        else:
            assert spec.values is not None
            use = self.use(spec.values, at)
            if use is None:
                return None
            if not isinstance(use.value, list):
                self.sink.add(
                    at, f"expected a list of values or a list parameter, got {spec.values!r}"
                )
                return None
            texts = [(str(text), at) for text in use.value]
        if not texts:
            self.sink.add(at, "the list of values is empty")
            return None
        kind: str | None = None
        values: list[float] = []
        for text, where in texts:
            use = self.use(text, where)
            got = None if use is None else self.parse(use, where, (kind,) if kind else RAMP_KINDS)
            if got is None:
                return None
            kind = got[0]
            values.append(got[1])
        assert kind is not None
        return RampVariable(spec.name, kind, tuple(values))

    def step(self, model: AnyStep, path: KeyPath) -> Step | None:
        assert not isinstance(model, LoopStep)
        kind = "rest" if model.type in ("rest", "ocv") else model.type
        current: Value | None = None
        voltage: Value | None = None
        if isinstance(model, CcStep | CccvStep):
            direction = {"charge": 1.0, "discharge": -1.0}.get(model.direction or "")
            current = self.quantity(
                model.current, (*path, "current"), CURRENT_KINDS, sign=direction
            )
        if isinstance(model, CvStep | CccvStep):
            voltage = self.quantity(model.voltage, (*path, "voltage"), ("voltage",))
        chamber = self.chamber(model, path) if isinstance(model, ChamberStep) else None
        ends = self.conditions(model.until, (*path, "until"))
        no_condition = model.until is None or not model.until.model_fields_set
        if kind in ("rest", "cc", "cv", "cccv") and no_condition:
            self.sink.add(
                (*path, "until"),  # on the line of `until`, else of the step
                f'a {model.type} step needs an end condition, e.g. until = {{ time = "1 h" }}',
            )
        if (
            isinstance(model, CccvStep)
            and model.until is not None
            and not (model.until.current_below or model.until.time or model.until.charge)
        ):
            self.sink.add(
                (*path, "until"), "the CV part of a cccv step needs current_below, time or charge"
            )
        capacity = self.cell.nominal_capacity_Ah
        step = Step(
            index=len(self.steps),
            name=model.name or model.type,
            kind=kind,  # type: ignore[arg-type]
            ends=ends,
            record=self.record(model.record, (*path, "record"), self.record_base),
            current_A=current,
            voltage_V=voltage,
            eis=self.eis(model, path) if isinstance(model, EisStep) else None,
            sweep=self.sweep(model, path) if isinstance(model, SweepStep) else None,
            chamber=chamber,
            resumable=model.resumable,
            c_rate=abs(current) / capacity if isinstance(current, float) and capacity else None,
            line=self.sink.line_of(path),
        )
        self.steps.append(step)
        self.paths.append(path)
        return step

    def conditions(self, until: Until | None, path: KeyPath) -> tuple[EndCondition, ...]:
        if until is None:
            return ()
        ends: list[EndCondition] = []
        for key in CONDITION_ORDER:
            raw = getattr(until, key)
            if raw is None or raw is False:
                continue
            at = (*path, key)
            value: Value | None
            window = 0.0
            if key in ("voltage_above", "voltage_below"):
                value = self.quantity(raw, at, ("voltage",))
            elif key == "current_below":
                value = self.quantity(raw, at, CURRENT_KINDS, magnitude=True)
            elif key == "charge":
                value = self.quantity(raw, at, CHARGE_KINDS, magnitude=True)
            elif key == "time":
                value = self.quantity(raw, at, ("time",))
                if isinstance(value, float) and not value > 0:
                    self.sink.add(at, f"must be greater than zero, got {raw!r}")
                    value = None
            elif key == "dvdt_below":
                window_text = raw.window if isinstance(raw, WindowedValue) else None
                text = raw.value if isinstance(raw, WindowedValue) else raw
                value_at = (*at, "value") if isinstance(raw, WindowedValue) else at
                value = self.quantity(text, value_at, ("scan_rate",), magnitude=True)
                found = (
                    DVDT_WINDOW_S
                    if window_text is None
                    else self.number(window_text, (*at, "window"), ("time",), positive=True)
                )
                value, window = (value, found) if found is not None else (None, 0.0)
            else:  # short
                value, window = SHORT_FRACTION, SHORT_WINDOW_S
                if isinstance(raw, ShortDetection):
                    found = self.number(raw.window, (*at, "window"), ("time",), positive=True)
                    if not 0 < raw.fraction < 1:
                        self.sink.add(
                            (*at, "fraction"), f"must be between 0 and 1, got {raw.fraction}"
                        )
                    elif found is not None:
                        value, window = float(raw.fraction), found
            if value is not None:
                ends.append(EndCondition(key, value, window))  # type: ignore[arg-type]
        return tuple(ends)

    def chamber(self, model: ChamberStep, path: KeyPath) -> ChamberSettings | None:
        setpoint = self.quantity(model.temperature, (*path, "temperature"), ("temperature",))
        tolerance = self.number(
            model.tolerance, (*path, "tolerance"), ("temperature",), positive=True
        )
        if tolerance is not None and tolerance > MAX_TOLERANCE_K:
            self.sink.add(
                (*path, "tolerance"),
                f"a tolerance is a temperature difference; write it in K, e.g. '0.5 K' "
                f"(got {model.tolerance!r})",
            )
            tolerance = None
        soak = self.number(model.soak, (*path, "soak"), ("time",), positive=True)
        timeout = self.number(model.timeout, (*path, "timeout"), ("time",), positive=True)
        if None in (setpoint, tolerance, soak, timeout):
            return None
        assert setpoint is not None and tolerance and soak and timeout
        if soak >= timeout:
            self.sink.add((*path, "timeout"), "must be longer than soak, or it can never pass")
            return None
        return ChamberSettings(setpoint, tolerance, soak, timeout)

    def eis(self, model: EisStep, path: KeyPath) -> EisSettings | None:
        f_start = self.number(model.f_start, (*path, "f_start"), ("frequency",), positive=True)
        f_stop = self.number(model.f_stop, (*path, "f_stop"), ("frequency",), positive=True)
        kinds = ("voltage",) if model.mode == "potentiostatic" else CURRENT_KINDS
        amplitude = self.number(model.amplitude, (*path, "amplitude"), kinds, positive=True)
        per_decade = self.whole(
            model.points_per_decade,
            (*path, "points_per_decade"),
            "points_per_decade",
            maximum=MAX_POINTS_PER_DECADE,
        )
        averages = self.whole(model.averages, (*path, "averages"), "averages", maximum=MAX_AVERAGES)
        bias = self.voltage_or_ocv(model.bias, (*path, "bias"))
        if None in (f_start, f_stop, amplitude, per_decade, averages):
            return None
        assert f_start and f_stop and amplitude and per_decade and averages
        return EisSettings(model.mode, f_start, f_stop, amplitude, per_decade, averages, bias)

    def sweep(self, model: SweepStep, path: KeyPath) -> SweepSettings | None:
        rate = self.number(model.scan_rate, (*path, "scan_rate"), ("scan_rate",), positive=True)
        vertices: list[float | None] = []
        targets = model.to if isinstance(model.to, list) else [model.to]
        for i, raw in enumerate(targets):
            at: KeyPath = (*path, "to", i) if isinstance(model.to, list) else (*path, "to")
            use = self.use(raw, at)
            if use is not None and isinstance(use.value, list):  # a list parameter
                vertices.extend(self.number(item, at, ("voltage",)) for item in use.value)
            else:
                vertices.append(self.number(raw, at, ("voltage",)))
        start = self.voltage_or_ocv(model.start, (*path, "from"))
        cycles = self.whole(model.cycles, (*path, "cycles"), "cycles", maximum=MAX_SWEEP_CYCLES)
        if rate is None or cycles is None or not vertices or None in vertices:
            if not vertices:
                self.sink.add((*path, "to"), "needs at least one vertex voltage")
            return None
        return SweepSettings(rate, tuple(v for v in vertices if v is not None), start, cycles)
