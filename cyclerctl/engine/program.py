"""Walk a Plan's loop tree one executed step at a time.

A :class:`Position` is one step as it will run: bound to its loop variables, with the loop
counters that locate it (one 0-based counter per enclosing loop) and the cycle number.
The cycle number starts at 0 and advances at the start of every iteration of a loop that
counts cycles, so two formation cycles followed by 100 cycles number 1…102.

Resuming after a crash re-enters the walk at a checkpointed (plan index, loop counters):
the positions before it are skipped without executing anything, never replayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cyclerctl.plan import Loop, Node, Plan, Step


@dataclass(frozen=True, slots=True)
class Position:
    ordinal: int  # 1-based count of executed steps in the run (the store's `step`)
    step: Step  # bound: every loop-variable reference resolved
    counters: tuple[int, ...]  # iteration of each enclosing loop, outermost first
    cycle: int
    variables: tuple[tuple[str, float], ...] = ()  # loop variables in scope, for display

    @property
    def key(self) -> tuple[int, tuple[int, ...]]:
        """What a checkpoint stores to find this position again."""
        return (self.step.index, self.counters)


def positions(plan: Plan) -> Iterator[Position]:
    """Every step the plan executes, in order."""
    state = _Walk()
    yield from state.walk(plan.body, (), {})


def positions_from(plan: Plan, index: int, counters: tuple[int, ...]) -> Iterator[Position]:
    """The positions from the one at (plan index, counters) on, that one included.

    Raises ValueError when the plan has no such position (the plan changed under a run).
    """
    walk = positions(plan)
    for position in walk:
        if position.key == (index, counters):
            yield position
            yield from walk
            return
    raise ValueError(f"the plan has no step {index} at loop counters {list(counters)}")


def total_positions(plan: Plan) -> int:
    """How many steps a full run executes (for progress display)."""
    return _count(plan.body)


def _count(nodes: tuple[Node, ...]) -> int:
    n = 0
    for node in nodes:
        n += node.count * _count(node.body) if isinstance(node, Loop) else 1
    return n


class _Walk:
    def __init__(self) -> None:
        self.ordinal = 0
        self.cycle = 0

    def walk(
        self, nodes: tuple[Node, ...], counters: tuple[int, ...], variables: dict[str, float]
    ) -> Iterator[Position]:
        for node in nodes:
            if isinstance(node, Loop):
                yield from self._loop(node, counters, variables)
                continue
            self.ordinal += 1
            yield Position(
                ordinal=self.ordinal,
                step=node.bind(variables),
                counters=counters,
                cycle=self.cycle,
                variables=tuple(sorted(variables.items())),
            )

    def _loop(
        self, loop: Loop, counters: tuple[int, ...], variables: dict[str, float]
    ) -> Iterator[Position]:
        for k in range(loop.count):
            if loop.counts_cycles:
                self.cycle += 1
            scope = variables
            if loop.variable is not None:
                scope = {**variables, loop.variable: loop.values[k]}
            yield from self.walk(loop.body, (*counters, k), scope)
