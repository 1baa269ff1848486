"""Anodic stability limit by linear sweep voltammetry (kind ``lsv-onset``).

Method: sweep Li | electrolyte | stainless steel from open circuit upwards; the oxidation
onset is the potential at which the current density j = I/S first exceeds a threshold and
stays above it for ``consecutive_points`` points in a row (one noisy point is not an
onset), interpolated linearly between the two points around the crossing. This is the
threshold-current criterion common in the polymer-electrolyte literature (e.g. Xu, Chem.
Rev. 104 (2004) 4303, §2.2); the threshold is the protocol parameter ``onset_threshold``
(default 10 µA/cm²), and the result's source names it.

Only the anodic branch counts: the points from the start of the sweep step to its highest
potential. Result ``oxidation_onset_V``; absent when the threshold is never exceeded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cyclerctl.analysis.run import (
    RunData,
    parse_value,
    raw_value,
    seq_range,
    step_samples,
    steps_of_kind,
)
from cyclerctl.store import Result

ANALYSIS_VERSION = "lsv-onset/1"
DEFAULT_THRESHOLD = "10 uA/cm^2"
CONSECUTIVE_POINTS = 5


def onset_potential(
    V: np.ndarray[Any, Any],
    j: np.ndarray[Any, Any],
    threshold: float,
    consecutive: int = CONSECUTIVE_POINTS,
) -> float | None:
    """First V at which ``j`` rises above ``threshold`` and stays above it for
    ``consecutive`` points, interpolated between the points around the crossing."""
    above = np.asarray(j) > threshold
    n = above.size
    k = max(1, min(consecutive, n))
    if n == 0:
        return None
    # run[i]: all of above[i : i + k] are true
    window = np.lib.stride_tricks.sliding_window_view(above, k).all(axis=1)
    starts = np.flatnonzero(window)
    if starts.size == 0:
        return None
    i = int(starts[0])
    if i == 0:
        return float(V[0])  # above the threshold from the first point on
    j0, j1 = float(j[i - 1]), float(j[i])
    w = (threshold - j0) / (j1 - j0) if j1 != j0 else 1.0
    return float(V[i - 1] + w * (V[i] - V[i - 1]))


def anodic_branch(V: np.ndarray[Any, Any]) -> slice:
    """The points from the start to the highest potential (the anodic sweep)."""
    return slice(0, int(np.argmax(V)) + 1) if V.size else slice(0, 0)


def analyse_lsv_onset(run: RunData) -> dict[str, Result]:
    sweeps = steps_of_kind(run, "sweep")
    if not sweeps or run.cell.area_m2 <= 0:
        return {}
    step = sweeps[0]
    rows = step_samples(run, step)
    if rows.size == 0:
        return {}
    rows = rows[anodic_branch(rows["V"])]
    raw = raw_value(run, "onset_threshold", DEFAULT_THRESHOLD)
    threshold = parse_value(raw, "current_density")
    if threshold is None:
        return {}
    consecutive = int(run.options.get("consecutive_points", CONSECUTIVE_POINTS))
    j = rows["I"] / run.cell.area_m2
    onset = onset_potential(rows["V"], j, threshold, consecutive)
    if onset is None:
        return {}
    source = {
        "steps": [step.step],
        "seq": seq_range(rows),
        "threshold": raw,
        "threshold_A_m2": threshold,
        "consecutive_points": consecutive,
    }
    return {"oxidation_onset_V": Result(value=onset, unit="V", source=source)}
