"""A Plan for people (the ``plan`` command's table) and for programs (JSON)."""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Mapping
from typing import Any

from cyclerctl.plan import Loop, Node, Plan, Step, Value

from . import display
from .display import Ranges

_HEADER = ("#", "step", "type", "I (mA)", "mA/cm²", "C-rate", "voltage", "until")


def render_plan_table(plan: Plan) -> str:
    """The step table with resolved currents, then safety, record criteria and the ETA.

    ``#`` is the step's position counted from 1 (``Step.index + 1``); loop headers show
    their count and indent their body.
    """
    cell = plan.cell
    capacity = (
        f", 1C = {display.milliamps(cell.nominal_capacity_Ah)}" if cell.nominal_capacity_Ah else ""
    )
    lines = [
        f"protocol    {plan.protocol_name} ({plan.protocol_source})",
        *([f"            {plan.description}"] if plan.description else []),
        f"cell        {cell.name}"
        + (f" ({cell.chemistry})" if cell.chemistry else "")
        + f": area {display.number(cell.area_m2 * 1e4)} cm²{capacity}",
    ]
    if plan.parameters:
        shown = ", ".join(f"{k} = {_param(v)}" for k, v in plan.parameters.items())
        lines.append(f"parameters  {shown}")
    rows: list[tuple[str, ...]] = [_HEADER]
    _rows(plan, plan.body, 0, {}, rows)
    widths = [max(len(r[i]) for r in rows if len(r) > 1) for i in range(len(_HEADER))]
    right = {0, 3, 4, 5, 6}
    lines.append("")
    for row in rows:
        if len(row) == 1:  # a loop header spans the row
            lines.append(" " * (widths[0] + 2) + row[0])
            continue
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append("safety      " + (", ".join(display.safety(s) for s in plan.safety) or "none"))
    lines.append("record      " + display.record(plan.record))
    if plan.estimated_duration_s is not None:
        lines.append(f"estimated   {display.eta(plan.estimated_duration_s)}")
    return "\n".join(lines)


def _param(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _rows(
    plan: Plan, nodes: tuple[Node, ...], depth: int, ranges: Ranges, rows: list[tuple[str, ...]]
) -> None:
    indent = "  " * depth
    for node in nodes:
        if isinstance(node, Loop):
            rows.append((indent + _loop_title(node),))
            inner = {**ranges, node.variable: node.values} if node.variable else ranges
            _rows(plan, node.body, depth + 1, inner, rows)
            continue
        in_mA, per_cm2, rate = display.current_columns(node.current_A, plan.cell, ranges)
        rows.append(
            (
                str(node.index + 1),
                indent + node.name,
                node.kind,
                in_mA,
                per_cm2,
                rate,
                _voltage(node.voltage_V, ranges),
                ", ".join(_step_details(node, plan, ranges)),
            )
        )


def _loop_title(loop: Loop) -> str:
    title = f"loop {loop.name} × {loop.count}"
    if loop.variable and loop.values:
        title += f", ramping {{{loop.variable}}}"
    return title + ("" if loop.counts_cycles else " (not counted as cycles)")


def _voltage(value: Value | None, ranges: Ranges) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return display.volts(value)
    return display.ref(value, ranges, lambda v: display.number(v, 3), "V")


def _step_details(step: Step, plan: Plan, ranges: Ranges) -> list[str]:
    out = [display.condition(c, plan.cell, ranges) for c in step.ends]
    if step.eis is not None:
        eis = step.eis
        unit = "mV" if eis.mode == "potentiostatic" else "mA"
        amplitude = f"{display.number(eis.amplitude * 1e3)} {unit}"
        bias = "OCV" if eis.bias_V is None else display.volts(eis.bias_V)
        out.append(
            f"{eis.mode} {display.frequency(eis.f_start_Hz)} → {display.frequency(eis.f_stop_Hz)}, "
            f"{amplitude}, {eis.points_per_decade}/decade × {eis.averages}, bias {bias}"
        )
    if step.chamber is not None:
        chamber = step.chamber
        setpoint = chamber.setpoint_K
        shown = (
            display.celsius(setpoint)
            if isinstance(setpoint, float)
            else display.ref(setpoint, ranges, display.celsius, "").replace(" )", ")")
        )
        out.append(
            f"chamber to {shown}, stable ±{display.number(chamber.tolerance_K)} K for "
            f"{display.duration(chamber.soak_s)} (timeout {display.duration(chamber.timeout_s)})"
        )
    if step.sweep is not None:
        sweep = step.sweep
        start = "OCV" if sweep.start_V is None else display.volts(sweep.start_V)
        path = " → ".join([start, *(display.volts(v) for v in sweep.vertices_V)])
        out.append(f"{display.number(sweep.scan_rate_V_s * 1e3)} mV/s {path} × {sweep.cycles}")
    if step.record != plan.record:
        out.append(f"record {display.record(step.record)}")
    if not step.resumable:
        out.append("not resumable")
    return out


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data: SI values (``*_A``, ``*_V``, ``*_s``…) plus display texts."""
    cell = plan.cell
    return {
        "protocol": {
            "name": plan.protocol_name,
            "description": plan.description,
            "source": plan.protocol_source,
            "sha256": plan.protocol_sha256,
        },
        "parameters": _plain(plan.parameters),
        "cell": {
            "name": cell.name,
            "chemistry": cell.chemistry,
            "source": cell.source,
            "area_m2": cell.area_m2,
            "nominal_capacity_Ah": cell.nominal_capacity_Ah,
            "active_mass_kg": cell.active_mass_kg,
            "specific_capacity_Ah_kg": cell.specific_capacity_Ah_kg,
            "thickness_m": cell.thickness_m,
            "sim": _plain(cell.sim),
        },
        "safety": [
            {**dataclasses.asdict(s), "reason": s.reason, "display": display.safety(s)}
            for s in plan.safety
        ],
        "record": {**dataclasses.asdict(plan.record), "display": display.record(plan.record)},
        "analysis": _plain(plan.analysis),
        "steps": [_node_json(plan, n, {}) for n in plan.body],
        "estimated_duration_s": plan.estimated_duration_s,
        "estimated_duration": None
        if plan.estimated_duration_s is None
        else display.eta(plan.estimated_duration_s),
    }


def _node_json(plan: Plan, node: Node, ranges: Ranges) -> dict[str, Any]:
    if isinstance(node, Loop):
        inner = {**ranges, node.variable: node.values} if node.variable else ranges
        return {
            "kind": "loop",
            "name": node.name,
            "count": node.count,
            "variable": node.variable,
            "values": list(node.values),
            "counts_cycles": node.counts_cycles,
            "line": node.line,
            "steps": [_node_json(plan, n, inner) for n in node.body],
        }
    return {
        "kind": node.kind,
        "index": node.index,
        "name": node.name,
        "line": node.line,
        "current_A": _value(node.current_A),
        "voltage_V": _value(node.voltage_V),
        "c_rate": node.c_rate,
        "ends": [
            {
                "kind": c.kind,
                "value": _value(c.value),
                "window_s": c.window_s,
                "reason": c.reason,
                "display": display.condition(c, plan.cell, ranges),
            }
            for c in node.ends
        ],
        "record": dataclasses.asdict(node.record),
        "eis": None if node.eis is None else dataclasses.asdict(node.eis),
        "sweep": None if node.sweep is None else _plain(dataclasses.asdict(node.sweep)),
        "resumable": node.resumable,
        "display": {
            "current": display.current(node.current_A, plan.cell, ranges),
            "voltage": _voltage(node.voltage_V, ranges),
            "until": [display.condition(c, plan.cell, ranges) for c in node.ends],
        },
    }


def _value(value: Value | None) -> float | dict[str, Any] | None:
    if value is None or isinstance(value, float):
        return value
    return {"variable": value.variable, "factor": value.factor}


def _plain(value: Any) -> Any:
    """TOML values (dates, tuples, nested tables) as JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
