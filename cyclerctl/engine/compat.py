"""Does a plan fit a channel? Checked before a run is created, so a misfit writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

from cyclerctl.drivers.base import Capabilities
from cyclerctl.plan import Node, Plan, Ref, Step, walk_with_ramps


def misfits(
    plan: Plan, capabilities: Capabilities, channel: str, *, has_chamber: bool = False
) -> list[str]:
    """What in the plan this channel cannot do, one message each (empty: it fits)."""
    problems: list[str] = []
    low, high = capabilities.voltage_range_V
    i_max = capabilities.current_max_A
    for step, currents in _currents(plan.body):
        where = f"step {step.index + 1} ({step.name})"
        if step.kind == "chamber":
            if not has_chamber:
                problems.append(f"{where}: needs a temperature chamber, and none is set up")
            continue
        if step.kind not in capabilities.step_kinds:
            kinds = ", ".join(sorted(capabilities.step_kinds))
            problems.append(f"{where}: {channel} cannot run {step.kind!r} steps (it runs {kinds})")
        top = max((abs(c) for c in currents), default=0.0)
        if top > i_max:
            problems.append(
                f"{where}: |I| = {top * 1e3:.4g} mA is above the range of {channel} "
                f"({i_max * 1e3:.4g} mA)"
            )
        voltage = step.voltage_V
        if isinstance(voltage, float) and not low <= voltage <= high:
            problems.append(
                f"{where}: {voltage:.4g} V is outside the range of {channel} ({low:g}…{high:g} V)"
            )
    return problems


def _currents(nodes: tuple[Node, ...]) -> Iterator[tuple[Step, list[float]]]:
    """Each step with every current it will source (a ramp gives one per iteration)."""
    for step, ramps in walk_with_ramps(nodes):
        current = step.current_A
        if isinstance(current, Ref):
            values = ramps.get(current.variable, ())
            yield step, [current.factor * v for v in values]
        elif current is not None:
            yield step, [current]
        else:
            yield step, []
