"""Whole protocols as Neware BTS 8 step files (``.xml``), out and in.

Each working step is written and read by the Neware driver's own step-file code
(``cyclerctl.drivers.neware.stepfile``: ``step_parts`` / ``step_element`` / ``parse_part``),
so a whole-protocol file and the one-step files the driver sends agree on every unit and tag.
What a whole file adds, following aurora-unicycler's ``_formats/neware.py``:

* loops as a CYCLE step (Step_Type 5) after the body, ``<Limit><Other><Start_Step>`` = the
  Step_ID the loop goes back to, ``<Cycle_Count>`` = how many times the body runs in all;
* safety limits in ``<Whole_Prt><Protect><Main>``: ``Volt/Upper``, ``Volt/Lower`` (0.1 mV),
  ``Curr/Upper`` (mA), ``Delay_Time`` (ms);
* ``MultCap`` = the cell's capacity in mA·s (aurora writes capacity_mAh × 3600).

A CV hold needs a direction and a current limit on a Neware channel: a CV step right after
a CC step that ends at its voltage takes the CC's (and is read back as the CC-CV step it
is); any other CV step is refused with that advice. Refused too: steps a Neware channel
cannot run (EIS, sweeps, chamber), and end conditions BTS does not watch (dV/dt, short) —
the driver lets the engine watch those, but a file run by BTS alone would silently lose them.
Loops over a variable are unrolled (:mod:`.flatten`).
"""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

from cyclerctl.drivers.neware import stepfile as sf
from cyclerctl.plan import EndCondition, Loop, Node, Plan, Step

from .draft import Draft, StepTable, amps, coulombs, seconds, volts
from .errors import ProtocolIOError
from .flatten import without_ramps

CYCLE = 5
CREATED = datetime(2026, 1, 1)  # a fixed date: the same plan gives the same file


def export_neware(plan: Plan) -> str:
    return export_neware_with_notes(plan)[0]


def export_neware_with_notes(plan: Plan) -> tuple[str, list[str]]:
    flat = without_ramps(plan.body)
    elements: list[ET.Element] = []
    _nodes(flat.nodes, elements, None)
    end = len(elements) + 1
    elements.append(ET.Element(f"Step{end}", Step_ID=str(end), Step_Type=str(sf.END)))

    root = ET.Element("root")
    config = ET.SubElement(
        root,
        "config",
        type="Step File",
        version=sf.CONFIG_VERSION,
        client_version=sf.CLIENT_VERSION,
        date=CREATED.strftime("%Y%m%d%H%M%S"),
    )
    head = ET.SubElement(config, "Head_Info")
    ET.SubElement(head, "Operate", Value="66")
    ET.SubElement(head, "Scale", Value="1")
    ET.SubElement(head, "Start_Step", Value="1", Hide_Ctrl_Step="0")
    ET.SubElement(head, "Creator", Value="cyclerctl")
    ET.SubElement(head, "Remark", Value=plan.protocol_name)
    ET.SubElement(head, "RateType", Value="103")
    capacity = plan.cell.nominal_capacity_Ah
    ET.SubElement(head, "MultCap", Value=sf._num((capacity or 1.0) * 3.6e6))
    whole = ET.SubElement(config, "Whole_Prt")
    whole.append(_protect(plan))
    whole.append(sf.record_element(plan.record))
    info = ET.SubElement(config, "Step_Info", Num=str(len(elements)))
    info.extend(elements)
    smbus = ET.SubElement(config, "SMBUS")
    ET.SubElement(smbus, "SMBUS_Info", Num="0", AdjacentInterval="0")
    config.set("Guid", str(uuid.uuid5(uuid.NAMESPACE_OID, ET.tostring(root, encoding="unicode"))))
    ET.indent(root, space="  ")
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    return text, list(flat.notes)


def _nodes(nodes: tuple[Node, ...], out: list[ET.Element], before: Step | None) -> Step | None:
    for node in nodes:
        if isinstance(node, Loop):
            first = len(out) + 1
            before = _nodes(node.body, out, before)
            n = len(out) + 1
            element = ET.Element(f"Step{n}", Step_ID=str(n), Step_Type=str(CYCLE))
            other = ET.SubElement(ET.SubElement(element, "Limit"), "Other")
            ET.SubElement(other, "Start_Step", Value=str(first))
            ET.SubElement(other, "Cycle_Count", Value=str(node.count))
            out.append(element)
        else:
            for code, limits in _parts(node, before):
                n = len(out) + 1
                out.append(sf.step_element(n, code, limits, node.record))
            before = node
    return before


def _parts(step: Step, before: Step | None) -> list[tuple[int, list[tuple[str, str]]]]:
    for c in step.ends:
        if c.kind not in sf.NATIVE_CONDITIONS:
            raise ProtocolIOError(
                f"step {step.name!r}: it ends on {c.kind}, which BTS does not watch; "
                "a Neware step file cannot hold it"
            )
    if all(v is None for v in (step.record.every_s, step.record.delta_V, step.record.delta_I)):
        raise ProtocolIOError(f"step {step.name!r}: a Neware step needs a record criterion")
    cv_charge: bool | None = None
    limit: float | None = None
    if step.kind == "cv":
        if (
            before is None
            or before.kind != "cc"
            or not isinstance(before.current_A, float)
            or _switch(before) != step.voltage_V
        ):
            raise ProtocolIOError(
                f"step {step.name!r}: a Neware CV hold needs its direction and current limit; "
                "put a CC step that ends at its voltage right before it"
            )
        cv_charge, limit = before.current_A > 0, abs(before.current_A)
    try:
        return sf.step_parts(step, cv_charge=cv_charge, cv_current_limit_A=limit)
    except sf.StepFileError as exc:
        raise ProtocolIOError(str(exc)) from None


def _switch(step: Step) -> float | None:
    assert isinstance(step.current_A, float)
    c = step.condition("voltage_above" if step.current_A > 0 else "voltage_below")
    return None if c is None or not isinstance(c.value, float) else c.value


def _protect(plan: Plan) -> ET.Element:
    protect = ET.Element("Protect")
    main = ET.SubElement(protect, "Main")
    volt = ET.SubElement(main, "Volt")
    curr = ET.SubElement(main, "Curr")
    holds = set()
    for s in plan.safety:
        holds.add(s.hold_s)
        if s.quantity == "voltage_max":
            ET.SubElement(volt, "Upper", Value=sf._volt(s.value))
        elif s.quantity == "voltage_min":
            ET.SubElement(volt, "Lower", Value=sf._volt(s.value))
        elif s.quantity == "current_max":
            ET.SubElement(curr, "Upper", Value=sf._num(s.value * sf.MA_PER_A))
        else:
            raise ProtocolIOError(f"safety {s.quantity}: a Neware step file has no such limit")
    if len(holds) > 1:
        raise ProtocolIOError("safety: BTS holds every limit for one delay; these differ")
    if holds and max(holds) > 0:
        ET.SubElement(main, "Delay_Time", Value=str(round(max(holds) * sf.MS_PER_S)))
    return protect


# -- import ---------------------------------------------------------------------------------


def import_neware(data: bytes | str, source: str) -> Draft:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProtocolIOError(f"{source}: not a step file: {exc}") from None
    info = root.find("./config/Step_Info")
    if info is None:
        raise ProtocolIOError(f"{source}: not a step file: no <Step_Info>")
    whole_record = root.find("./config/Whole_Prt/Record")
    items: list[tuple[int, Step | None, tuple[int, int] | None]] = []  # (id, step, loop)
    for element in info:
        step_id = int(element.get("Step_ID", "0"))
        code = int(element.get("Step_Type", "0"))
        where = f"{source}: Step_ID {step_id} (Step_Type {code})"
        if code == sf.END:
            break
        if code == CYCLE:
            start = element.find("./Limit/Other/Start_Step")
            count = element.find("./Limit/Other/Cycle_Count")
            if start is None or count is None:
                raise ProtocolIOError(f"{where}: a CYCLE step needs Start_Step and Cycle_Count")
            items.append(
                (step_id, None, (int(start.get("Value", "0")), int(count.get("Value", "0"))))
            )
            continue
        try:
            part = sf.parse_part(element, whole_record)
        except sf.StepFileError as exc:
            raise ProtocolIOError(f"{where}: {exc}") from None
        step = part.step
        if code in (sf.CV_CHARGE, sf.CV_DISCHARGE):
            step = dataclasses.replace(step, current_A=None)  # a CV's Curr is its limit
        items.append((step_id, step, None))
    steps = _merge_cccv(items)
    tables = _nest(steps, source)
    remark = root.find("./config/Head_Info/Remark")
    name = (remark.get("Value") if remark is not None else None) or "neware"
    draft = Draft(name=name, source=source.rsplit("/", 1)[-1], steps=tables)
    draft.description = f"imported from Neware step file {draft.source}"
    draft.safety = _safety(root)
    return draft


def _merge_cccv(
    items: list[tuple[int, Step | None, tuple[int, int] | None]],
) -> list[tuple[int, StepTable | None, tuple[int, int] | None]]:
    """A CC step that ends at the voltage of the CV step after it (same direction) is the
    CC-CV step the driver writes as two: read back as one, as ``parse_stepfile`` does."""
    out: list[tuple[int, StepTable | None, tuple[int, int] | None]] = []
    k = 0
    while k < len(items):
        step_id, step, loop = items[k]
        if step is None:
            out.append((step_id, None, loop))
            k += 1
            continue
        nxt = items[k + 1][1] if k + 1 < len(items) else None
        if (
            step.kind == "cc"
            and nxt is not None
            and nxt.kind == "cv"
            and isinstance(step.current_A, float)
            and _switch(step) == nxt.voltage_V
        ):
            merged = dataclasses.replace(nxt, kind="cccv", current_A=step.current_A)
            out.append((step_id, _table(merged, f"step {step_id}"), None))
            out.append((items[k + 1][0], None, None))
            k += 2
            continue
        out.append((step_id, _table(step, f"step {step_id}"), None))
        k += 1
    return out


def _table(step: Step, name: str) -> StepTable:
    table: StepTable = {"type": step.kind, "name": name}
    if step.kind in ("cc", "cccv"):
        assert isinstance(step.current_A, float)
        table["current"] = amps(step.current_A)
    if step.kind in ("cv", "cccv"):
        assert isinstance(step.voltage_V, float)
        table["voltage"] = volts(step.voltage_V)
    until: dict[str, str] = {}
    for c in step.ends:
        until[c.kind] = _condition(c)
    if until:
        table["until"] = until
    r = step.record
    record = {}
    if r.every_s is not None:
        record["every"] = seconds(r.every_s)
    if r.delta_V is not None:
        record["voltage_change"] = volts(r.delta_V)
    if r.delta_I is not None:
        record["current_change"] = amps(r.delta_I)
    if record:
        table["record"] = record
    return table


def _condition(c: EndCondition) -> str:
    assert isinstance(c.value, float)
    if c.kind in ("voltage_above", "voltage_below"):
        return volts(c.value)
    if c.kind == "current_below":
        return amps(c.value)
    if c.kind == "time":
        return seconds(c.value)
    return coulombs(c.value)


def _nest(
    items: list[tuple[int, StepTable | None, tuple[int, int] | None]], source: str
) -> list[StepTable]:
    """CYCLE steps wrap the steps from their Start_Step to just before them."""
    stack: list[tuple[int, StepTable]] = []  # (step id, table) built so far, in order
    for step_id, table, loop in items:
        if loop is None:
            if table is not None:
                stack.append((step_id, table))
            continue
        start, count = loop
        body = [(i, t) for i, t in stack if i >= start]
        if not body or start > step_id:
            raise ProtocolIOError(f"{source}: Step_ID {step_id}: CYCLE to {start} holds no steps")
        stack = [(i, t) for i, t in stack if i < start]
        stack.append(
            (start, {"type": "loop", "name": f"steps {start}-{step_id - 1}", "count": count,
                     "steps": [t for _, t in body]})
        )  # fmt: skip
    return [t for _, t in stack]


def _safety(root: ET.Element) -> dict[str, object]:
    main = root.find("./config/Whole_Prt/Protect/Main")
    if main is None:
        return {}
    out: dict[str, object] = {}
    for path, key, scale, unit in (
        ("Volt/Upper", "voltage_max", sf.VOLT_UNITS_PER_V, volts),
        ("Volt/Lower", "voltage_min", sf.VOLT_UNITS_PER_V, volts),
        ("Curr/Upper", "current_max", sf.MA_PER_A, amps),
    ):
        element = main.find(path)
        if element is not None:
            out[key] = unit(float(element.get("Value", "nan")) / scale)
    delay = main.find("Delay_Time")
    if delay is not None and float(delay.get("Value", "0")) > 0:
        hold = seconds(float(delay.get("Value", "0")) / sf.MS_PER_S)
        out = {k: {"value": v, "for": hold} for k, v in out.items()}
    return out
