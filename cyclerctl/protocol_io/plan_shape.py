"""What two Plans must share to be "the same protocol": the kind, set points, end
conditions and record criteria of every step, and the loop structure around them.

Names, line numbers and the protocol text are not compared (a foreign file keeps its own).
Numbers are compared to a relative tolerance: a file that writes three decimals in the unit
it chose (EC-Lab) keeps four significant digits, not a float's sixteen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from cyclerctl.plan import Loop, Node, Step

Shape = tuple[Any, ...]


def step_shape(step: Step) -> Shape:
    ends = tuple(sorted((c.kind, _num(c.value), c.window_s) for c in step.ends))
    record = (step.record.every_s, step.record.delta_V, step.record.delta_I)
    eis = None if step.eis is None else tuple(_num(v) for v in _fields(step.eis))
    sweep = None
    if step.sweep is not None:
        s = step.sweep
        sweep = (s.scan_rate_V_s, s.vertices_V, s.start_V, s.cycles)
    return (
        step.kind,
        _num(step.current_A),
        _num(step.voltage_V),
        ends,
        record,
        eis,
        sweep,
    )


def shape(nodes: tuple[Node, ...]) -> Shape:
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, Loop):
            out.append(("loop", node.count, node.variable is not None, shape(node.body)))
        else:
            out.append(step_shape(node))
    return tuple(out)


def expanded(
    nodes: tuple[Node, ...], variables: Mapping[str, float] | None = None
) -> Iterator[Step]:
    """Every step as the engine runs it: loops unrolled, loop variables bound."""
    bound = dict(variables or {})
    for node in nodes:
        if isinstance(node, Loop):
            for k in range(node.count):
                if node.variable is not None:
                    bound[node.variable] = node.values[k]
                yield from expanded(node.body, bound)
        else:
            yield node.bind(bound)


def differences(a: Any, b: Any, rel: float = 1e-3, path: str = "") -> list[str]:
    """Where two shapes differ beyond ``rel`` (empty: the same)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            return [f"{path or 'top'}: {len(a)} vs {len(b)} items: {a!r} vs {b!r}"]
        out: list[str] = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += differences(x, y, rel, f"{path}[{i}]")
        return out
    if isinstance(a, float) and isinstance(b, float):
        if math.isclose(a, b, rel_tol=rel, abs_tol=1e-12):
            return []
        return [f"{path}: {a!r} vs {b!r}"]
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return differences(float(a), float(b), rel, path)
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def _num(value: object) -> object:
    return float(value) if isinstance(value, int | float) else value


def _fields(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, name) for name in obj.__slots__)
