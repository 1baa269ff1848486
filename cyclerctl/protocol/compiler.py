"""Protocol file + cell file + ``--set`` overrides → a :class:`~cyclerctl.plan.Plan`.

Every error found on the way is collected (with its file, line and field) and raised
together as one :class:`ProtocolError`; nothing is compiled from a half-valid file.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping

from cyclerctl.plan import CellSummary, Loop, Node, Plan, RecordCriteria, SafetyLimit

from .cell import compile_cell
from .errors import ErrorSink, InputError, KeyPath, ProtocolError
from .estimate import estimate_duration_s
from .harm import ChannelLimits, check_harm
from .library import locate
from .model import HeldLimit, ProtocolFile
from .parameters import (
    ResolvedParameter,
    check_bounds,
    report_unknown_overrides,
    resolve_parameters,
)
from .steps import StepCompiler
from .toml_positions import TomlDocument, parse_toml, read_toml
from .units import CURRENT_KINDS
from .validation import validate


def load_cell(cell: str) -> CellSummary:
    """A cell file alone (a path or library name), e.g. for an emulator's channels."""
    found = locate(cell, "cell")
    doc = read_toml(found.path, found.shown_as)
    sink = ErrorSink(doc.path, doc.lines)
    summary = compile_cell(doc, found.source, sink)
    sink.raise_if_any()
    assert summary is not None
    return summary


def cell_from_text(text: str, source: str) -> CellSummary:
    """A cell from its TOML text (a generated cell: commissioning's dummy load)."""
    doc = parse_toml(text, source)
    sink = ErrorSink(doc.path, doc.lines)
    summary = compile_cell(doc, source, sink)
    sink.raise_if_any()
    assert summary is not None
    return summary


def load_plan(
    protocol: str,
    cell: str,
    overrides: Mapping[str, str] | None = None,
    *,
    channel: ChannelLimits | None = None,
) -> Plan:
    """Compile ``protocol`` for ``cell`` (paths or library names) with ``--set`` overrides.

    With ``channel``, a protocol the channel must not run (a current above its range, a
    voltage outside its limits) is refused too.
    """
    errors: list[InputError] = []
    docs: dict[str, tuple[TomlDocument, str]] = {}
    for what, spec in (("protocol", protocol), ("cell", cell)):
        try:
            found = locate(spec, what)
            docs[what] = (read_toml(found.path, found.shown_as), found.source)
        except ProtocolError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ProtocolError(errors)
    protocol_doc, protocol_source = docs["protocol"]
    cell_doc, cell_source = docs["cell"]
    return _compile(protocol_doc, protocol_source, cell_doc, cell_source, overrides, channel)


def plan_from_texts(
    protocol_text: str,
    cell_text: str,
    overrides: Mapping[str, str] | None = None,
    *,
    protocol_source: str = "stored protocol",
    cell_source: str = "stored cell",
    channel: ChannelLimits | None = None,
) -> Plan:
    """Compile a protocol and a cell from their text, as stored with a queued run.

    The daemon compiles what was submitted, not what the library holds now: a file edited
    after ``cyclerctl submit`` never changes a queued or running run. ``*_source`` name the
    texts in messages and are recorded in the Plan as they were at submission.
    """
    errors: list[InputError] = []
    docs: list[TomlDocument] = []
    for text, source in ((protocol_text, protocol_source), (cell_text, cell_source)):
        try:
            docs.append(parse_toml(text, source))
        except ProtocolError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ProtocolError(errors)
    protocol_doc, cell_doc = docs
    return _compile(protocol_doc, protocol_source, cell_doc, cell_source, overrides, channel)


def _compile(
    protocol_doc: TomlDocument,
    protocol_source: str,
    cell_doc: TomlDocument,
    cell_source: str,
    overrides: Mapping[str, str] | None,
    channel: ChannelLimits | None = None,
) -> Plan:
    sink = ErrorSink(protocol_doc.path, protocol_doc.lines)
    cell_sink = ErrorSink(cell_doc.path, cell_doc.lines)
    set_sink = ErrorSink("--set")
    model = validate(ProtocolFile, protocol_doc.data, sink)
    cell_summary = compile_cell(cell_doc, cell_source, cell_sink)
    parameters: dict[str, ResolvedParameter] = {}
    if model is not None:
        parameters = resolve_parameters(model.parameters, overrides or {}, sink, set_sink)
    elif isinstance(declared := protocol_doc.data.get("parameters", {}), dict):
        report_unknown_overrides(list(declared), overrides or {}, set_sink)  # still worth saying
    plan: Plan | None = None
    if model is not None and cell_summary is not None:
        compiler = _PlanCompiler(sink, parameters, set(model.parameters), cell_summary)
        for name in check_bounds(parameters, compiler.to_si, sink, set_sink):
            del parameters[name]  # reported once, at the bound, not again at every use
        plan = compiler.plan(model, protocol_doc, protocol_source, cell_doc.text)
        if not sink.errors and not set_sink.errors:  # judged on a well-formed plan only
            check_harm(plan.body, compiler.paths, plan.safety, cell_summary, channel, sink)
    errors = sink.errors + cell_sink.errors + set_sink.errors
    if errors or plan is None:
        raise ProtocolError(errors)
    return plan


class _PlanCompiler(StepCompiler):
    def plan(self, model: ProtocolFile, doc: TomlDocument, source: str, cell_text: str) -> Plan:
        self.record_base = self.record(model.record, ("record",), RecordCriteria())
        safety = self.safety(model)
        body = self.nodes(model.steps, ("steps",))
        analysis = dict(model.analysis)
        formation = analysis.get("formation_loop")
        if formation is not None:
            loops = {loop.name: loop for loop in _loops(body)}
            if isinstance(formation, str) and formation in loops:
                analysis["formation_cycles"] = loops[formation].count
            else:
                names = ", ".join(repr(n) for n in loops) or "(none)"
                self.sink.add(
                    ("analysis", "formation_loop"),
                    f"no loop is named {formation!r}; the loops are: {names}",
                )
        plan = Plan(
            protocol_name=model.name,
            description=model.description,
            protocol_text=doc.text,
            protocol_sha256=hashlib.sha256(doc.text.encode("utf-8")).hexdigest(),
            protocol_source=source,
            parameters={name: p.value for name, p in self.parameters.items()},
            cell=self.cell,
            cell_text=cell_text,
            safety=safety,
            record=self.record_base,
            body=body,
            steps=tuple(self.steps),
            analysis=analysis,
        )
        if self.sink.errors:
            return plan
        return _with_estimate(plan)

    def safety(self, model: ProtocolFile) -> tuple[SafetyLimit, ...]:
        limits: list[SafetyLimit] = []
        kinds = {
            "voltage_min": ("voltage",),
            "voltage_max": ("voltage",),
            "current_max": CURRENT_KINDS,
            "temperature_max": ("temperature",),
        }
        for quantity, allowed in kinds.items():
            raw = getattr(model.safety, quantity)
            if raw is None:
                continue
            at: KeyPath = ("safety", quantity)
            hold_s: float | None = 0.0
            if isinstance(raw, HeldLimit):
                hold_s = self.number(raw.hold, (*at, "for"), ("time",))
                raw, at = raw.value, (*at, "value")
            value = self.number(raw, at, allowed)
            if value is not None and hold_s is not None:
                if quantity == "current_max":
                    value = abs(value)
                limits.append(SafetyLimit(quantity, value, max(hold_s, 0.0)))  # type: ignore[arg-type]
        low = next((s.value for s in limits if s.quantity == "voltage_min"), None)
        high = next((s.value for s in limits if s.quantity == "voltage_max"), None)
        if low is not None and high is not None and not low < high:
            self.sink.add(("safety", "voltage_min"), "voltage_min must be below voltage_max")
        return tuple(limits)


def _loops(nodes: tuple[Node, ...]) -> Iterator[Loop]:
    for node in nodes:
        if isinstance(node, Loop):
            yield node
            yield from _loops(node.body)


def _with_estimate(plan: Plan) -> Plan:
    return dataclasses.replace(plan, estimated_duration_s=estimate_duration_s(plan))
