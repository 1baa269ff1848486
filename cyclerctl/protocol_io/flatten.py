"""A Plan's body as the nodes a foreign format can hold: loops over loop variables (ramps)
unrolled into their iterations, every value bound. What was unrolled is said in ``notes``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cyclerctl.plan import Loop, Node, Step

from .errors import ProtocolIOError


@dataclass
class Flat:
    nodes: tuple[Node, ...]
    notes: list[str] = field(default_factory=list)


def without_ramps(nodes: tuple[Node, ...]) -> Flat:
    notes: list[str] = []
    return Flat(_unroll(nodes, {}, notes), notes)


def _unroll(
    nodes: tuple[Node, ...], bound: Mapping[str, float], notes: list[str]
) -> tuple[Node, ...]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Loop):
            if node.count == 0:
                raise ProtocolIOError(f"loop {node.name!r} runs 0 times: remove it first")
            if node.variable is None:
                out.append(
                    Loop(
                        node.name,
                        node.count,
                        _unroll(node.body, bound, notes),
                        counts_cycles=node.counts_cycles,
                    )
                )
                continue
            notes.append(
                f"loop {node.name!r} over {node.variable} unrolled into its {node.count} "
                "iterations (the file has no loop variables)"
            )
            for value in node.values:
                inner = {**bound, node.variable: value}
                out.append(
                    Loop(
                        node.name,
                        1,
                        _unroll(node.body, inner, notes),
                        counts_cycles=node.counts_cycles,
                    )
                )
        else:
            step = node.bind(bound)
            if not isinstance(step, Step) or not step.is_bound:
                raise ProtocolIOError(f"step {node.name!r}: a value follows an unbound variable")
            out.append(step)
    return tuple(out)
