"""Hand-built Plans for engine tests (no protocol file in between)."""

from __future__ import annotations

import dataclasses

from cyclerctl.plan import (
    CellSummary,
    EndCondition,
    Loop,
    Node,
    Plan,
    RecordCriteria,
    SafetyLimit,
    Step,
    walk,
)

CELL = CellSummary(
    name="test cell",
    chemistry="NCM622|Li",
    area_m2=1.131e-4,
    nominal_capacity_Ah=1.979e-4,
    active_mass_kg=1.131e-6,
    specific_capacity_Ah_kg=175.0,
    sim={"model": "ncm622-li", "seed": 1},
)


def step(name: str, kind: str = "rest", **kw: object) -> Step:
    return Step(index=-1, name=name, kind=kind, **kw)  # type: ignore[arg-type]


def plan(
    *body: Node,
    safety: tuple[SafetyLimit, ...] = (),
    record: RecordCriteria | None = None,
    analysis: dict[str, object] | None = None,
) -> Plan:
    numbered = _number(body, [0])
    return Plan(
        protocol_name="test",
        description="",
        protocol_text="",
        protocol_sha256="0" * 64,
        protocol_source="test.toml",
        parameters={},
        cell=CELL,
        cell_text="",
        safety=safety,
        record=record or RecordCriteria(),
        body=numbered,
        steps=tuple(walk(numbered)),
        analysis=analysis or {},
    )


def _number(nodes: tuple[Node, ...], counter: list[int]) -> tuple[Node, ...]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Loop):
            out.append(
                Loop(
                    node.name,
                    node.count,
                    _number(node.body, counter),
                    node.variable,
                    node.values,
                    node.counts_cycles,
                )
            )
        else:
            out.append(dataclasses.replace(node, index=counter[0]))
            counter[0] += 1
    return tuple(out)


def until_time(seconds: float) -> tuple[EndCondition, ...]:
    return (EndCondition("time", seconds),)
