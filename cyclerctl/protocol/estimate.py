"""How long a plan will take: a heuristic for the ETA shown before a cell is touched.

The estimate assumes the cell behaves as its nominal capacity says:

- a step with a ``time`` condition never runs longer than that time;
- rest and CV steps: the ``time`` condition, else 1 h;
- CC steps ending on a voltage: the charge they can move, about the nominal capacity
  (a full swing), over |I|; a ``charge`` condition is used instead when present;
- CCCV steps: that CC part plus a CV tail of about 1/(2 × C-rate) hours;
- EIS: per frequency point, ``averages`` periods plus 1 s of settling;
- sweeps: the potential travelled (from the start or first vertex through every vertex)
  over the scan rate, times ``cycles``;
- loops multiply their body by the count (ramps bind each iteration's value).

Where a quantity the heuristic needs is unknown (no capacity, a zero current), 1 h.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from cyclerctl.plan import Loop, Node, Plan, Step

FALLBACK_S = 3600.0


#: A sweep "from OCV" is counted from this potential (a Li-metal cell's typical OCV): the
#: real OCV is only known when the cell is on the channel.
TYPICAL_OCV_V = 3.0
#: A chamber step: the approach to a new set point (about 3 time constants of a lab oven).
CHAMBER_APPROACH_S = 1800.0


def estimate_duration_s(plan: Plan) -> float:
    return _nodes(plan.body, {}, plan.cell.nominal_capacity_Ah)


def _nodes(
    nodes: tuple[Node, ...], variables: Mapping[str, float], capacity_Ah: float | None
) -> float:
    total = 0.0
    for node in nodes:
        if isinstance(node, Loop):
            if node.variable is None:
                total += node.count * _nodes(node.body, variables, capacity_Ah)
            else:
                for value in node.values:
                    inner = {**variables, node.variable: value}
                    total += _nodes(node.body, inner, capacity_Ah)
        else:
            total += step_duration_s(node.bind(variables), capacity_Ah)
    return total


def step_duration_s(step: Step, capacity_Ah: float | None) -> float:
    """The estimate for one bound step (see the module notes)."""
    cap = _condition(step, "time")
    charge_C = _condition(step, "charge")
    current = abs(step.current_A) if isinstance(step.current_A, float) else 0.0
    duration: float | None = None  # None: nothing better than the time condition
    if step.kind in ("cc", "cccv") and current > 0:
        if charge_C is not None:
            duration = charge_C / current
        elif capacity_Ah is not None and (step.kind == "cccv" or _ends_on_voltage(step)):
            full_swing_s = capacity_Ah * 3600.0 / current
            duration = full_swing_s * (1.5 if step.kind == "cccv" else 1.0)
    elif step.kind == "eis" and step.eis is not None:
        duration = _eis_s(step)
    elif step.kind == "sweep" and step.sweep is not None:
        sweep = step.sweep
        path = [
            sweep.start_V if sweep.start_V is not None else TYPICAL_OCV_V,
            *sweep.vertices_V,
        ]
        travel = sum(abs(b - a) for a, b in itertools.pairwise(path))
        duration = travel / sweep.scan_rate_V_s * sweep.cycles
    elif step.kind == "chamber" and step.chamber is not None:
        # reaching the set point takes a few chamber time constants, then the soak
        duration = min(CHAMBER_APPROACH_S + step.chamber.soak_s, step.chamber.timeout_s)
    if duration is None:
        return FALLBACK_S if cap is None else cap
    return duration if cap is None else min(duration, cap)


def _eis_s(step: Step) -> float:
    assert step.eis is not None
    eis = step.eis
    decades = abs(math.log10(eis.f_start_Hz / eis.f_stop_Hz))
    points = max(1, round(decades * eis.points_per_decade)) + 1
    low, high = sorted((eis.f_start_Hz, eis.f_stop_Hz))
    total = 0.0
    for k in range(points):
        f = low * (high / low) ** (k / max(points - 1, 1))
        total += eis.averages / f + 1.0
    return total


def _condition(step: Step, kind: str) -> float | None:
    for condition in step.ends:
        if condition.kind == kind and isinstance(condition.value, float):
            return abs(condition.value)
    return None


def _ends_on_voltage(step: Step) -> bool:
    return any(c.kind in ("voltage_above", "voltage_below") for c in step.ends)
