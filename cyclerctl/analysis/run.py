"""What an analysis reads: one run's cell, parameters, steps, points and events.

:class:`RunData` is handed to every ``analyse_<kind>``; the helpers below pick the steps a
protocol names and the points that belong to them, so the analyses stay about the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.plan import CellSummary
from cyclerctl.store import EventRecord, StepRecord
from cyclerctl.store.records import IMPEDANCE_ROW_DTYPE, SAMPLE_ROW_DTYPE

#: Step end reasons after which a step's data say nothing about the cell's normal behaviour.
ABNORMAL_PREFIXES = ("short", "safety:", "operator", "error", "interrupted", "timeout:")
#: 1 A/m² is 0.1 mA/cm²; 1 S/m is 0.01 S/cm.
MA_CM2_PER_A_M2 = 0.1
S_CM_PER_S_M = 0.01


def _empty(dtype: np.dtype[Any]) -> NDArray[Any]:
    return np.zeros(0, dtype=dtype)


@dataclass(frozen=True)  # no slots: callers copy it with ``RunData(**run.__dict__)``
class RunData:
    """Everything an analysis may use about one run (SI inside, strings as the user wrote)."""

    cell: CellSummary
    parameters: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    steps: Sequence[StepRecord] = ()
    samples: NDArray[Any] = field(default_factory=lambda: _empty(SAMPLE_ROW_DTYPE))
    impedance: NDArray[Any] = field(default_factory=lambda: _empty(IMPEDANCE_ROW_DTYPE))
    events: Sequence[EventRecord] = ()
    end_reason: str | None = None


def is_abnormal(reason: str | None) -> bool:
    """True for a step that was cut short by a short, a safety stop, the operator, a fault."""
    return reason is not None and reason.startswith(ABNORMAL_PREFIXES)


def steps_named(run: RunData, *names: str) -> list[StepRecord]:
    wanted = set(names)
    return [s for s in run.steps if s.name in wanted]


def steps_of_kind(run: RunData, kind: str) -> list[StepRecord]:
    return [s for s in run.steps if s.kind == kind]


def step_samples(run: RunData, step: StepRecord) -> NDArray[Any]:
    """The stored points of one executed step, in order."""
    rows: NDArray[Any] = run.samples[run.samples["step"] == step.step]
    return rows[np.argsort(rows["seq"], kind="stable")]


def step_impedance(run: RunData, step: StepRecord) -> NDArray[Any]:
    """The impedance points of one executed step, in order of measurement."""
    rows: NDArray[Any] = run.impedance[run.impedance["step"] == step.step]
    return rows[np.argsort(rows["seq"], kind="stable")]


def seq_range(rows: NDArray[Any]) -> list[int]:
    """``[first seq, last seq]`` of some rows, for a result's ``source``."""
    if rows.size == 0:
        return []
    return [int(rows["seq"].min()), int(rows["seq"].max())]


def first_short(run: RunData) -> StepRecord | None:
    """The step in which the cell shorted: the first one that ended on ``short``; else, when
    only the run says so, the last step that was running."""
    for s in run.steps:
        if s.end_reason == "short":
            return s
    if run.end_reason == "short" and run.steps:
        return run.steps[-1]
    return None


def step_end_s(run: RunData, step: StepRecord) -> float:
    """Run time at which a step ended (its last point when the end was never recorded)."""
    if step.t_end is not None:
        return step.t_end
    rows = step_samples(run, step)
    return float(rows["t"][-1]) if rows.size else step.t_start


def median_abs_current_A(run: RunData, step: StepRecord) -> float | None:
    """|I| of a constant-current step: the median of its points, robust to the first point
    and to noise; the mean from its charge totals when no point was stored."""
    rows = step_samples(run, step)
    if rows.size:
        return float(np.median(np.abs(rows["I"])))
    duration = step_end_s(run, step) - step.t_start
    if duration <= 0:
        return None
    return (step.charge_Ah + step.discharge_Ah) * 3600.0 / duration


def raw_value(run: RunData, name: str, default: Any = None) -> Any:
    """A protocol parameter, else an ``[analysis]`` option, as the user wrote it."""
    return run.parameters.get(name, run.options.get(name, default))


def quantity(run: RunData, name: str, kind: str, default: str | None = None) -> float | None:
    """A protocol parameter (or an ``[analysis]`` option) as an SI float; None when absent.

    Parameters win over options; numbers are taken as already SI.
    """
    return parse_value(raw_value(run, name, default), kind)


def parse_value(raw: Any, kind: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"expected a {kind.replace('_', ' ')}, got {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    from cyclerctl.protocol import parse_quantity  # pint is slow to import: only when needed

    return parse_quantity(str(raw), kind)


def mean_temperature_K(rows: NDArray[Any]) -> float | None:
    """Mean of a block's T column; None when no point knows its temperature."""
    if rows.size == 0:
        return None
    temps = rows["T"][np.isfinite(rows["T"])]
    return float(temps.mean()) if temps.size else None
