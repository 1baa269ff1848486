"""Differential capacity dQ/dV and differential voltage dV/dQ of chosen cycles.

Method (stated with every curve in :attr:`Curve.method`):

- **dQ/dV by voltage binning.** Within a half cycle the capacity passed is a function of
  voltage; the voltage is made monotone in the current's direction (its running maximum
  under positive current, running minimum under negative: noise cannot walk back), the
  capacity is interpolated linearly at bin edges every ``bin_width_V`` (default 10 mV,
  edges on multiples of the width), and dQ/dV of a bin is the capacity between its edges /
  the bin width. Interpolating at the edges shares each recorded interval's charge between
  the bins it spans, so a bin that holds one recorded point or three reads the same (plain
  histogramming of points aliases against the recording's ΔV into a sawtooth); the sum
  over bins of dQ/dV · ΔV is the half cycle's capacity, so peak areas stay quantitative,
  and no smoothing window shifts or broadens a peak.
- **dV/dQ by capacity binning.** The half cycle's capacity is cut into ``capacity_bins``
  equal parts (default 100); V and capacity are averaged over the points in each, and
  dV/dQ is the centred difference of the mean V over the mean capacity (numpy.gradient).

Only galvanostatic points count: the constant-voltage phase of a cccv step (as
:func:`cyclerctl.analysis.cycling.cv_phase_start` finds it) and ``cv`` steps are left out, as
their dQ at one voltage is no property of the electrode. Which half is "charge" follows the
working electrode (:mod:`.electrode`). Capacities are in mAh, or mAh/g when the cell gives
an active mass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.analysis.cycling import cv_phase_start
from cyclerctl.analysis.electrode import working_electrode
from cyclerctl.analysis.run import RunData, step_samples

DEFAULT_BIN_WIDTH_V = 0.010
DEFAULT_CAPACITY_BINS = 100


@dataclass(frozen=True)
class Curve:
    """One half cycle: its V-Q points and both derivatives, with the method used."""

    cycle: int
    half: str  # "charge" | "discharge" (of the working electrode)
    capacity_unit: str  # "mAh" or "mAh/g"
    V: NDArray[np.float64]  # the half cycle's points, in order (CV phase included)
    capacity: NDArray[np.float64]  # capacity passed in the half cycle at each point
    constant_voltage: NDArray[np.bool_]  # points of the CV phase (left out of the derivatives)
    dqdv_V: NDArray[np.float64]  # bin centres, V
    dqdv: NDArray[np.float64]  # capacity_unit / V
    dvdq_capacity: NDArray[np.float64]  # bin centres, capacity_unit
    dvdq: NDArray[np.float64]  # V / capacity_unit
    method: str

    def rows(self) -> list[dict[str, Any]]:
        """Long-format rows for export: one per dQ/dV bin, then one per dV/dQ bin."""
        out: list[dict[str, Any]] = []
        for v, y in zip(self.dqdv_V.tolist(), self.dqdv.tolist(), strict=True):
            out.append({"cycle": self.cycle, "half": self.half, "quantity": "dQ/dV",
                        "x": v, "x_unit": "V", "y": y, "y_unit": self.dqdv_unit})  # fmt: skip
        for q, y in zip(self.dvdq_capacity.tolist(), self.dvdq.tolist(), strict=True):
            out.append({"cycle": self.cycle, "half": self.half, "quantity": "dV/dQ",
                        "x": q, "x_unit": self.capacity_unit, "y": y,
                        "y_unit": self.dvdq_unit})  # fmt: skip
        return out

    @property
    def dqdv_unit(self) -> str:
        return "mAh g-1 V-1" if self.capacity_unit == "mAh/g" else "mAh V-1"

    @property
    def dvdq_unit(self) -> str:
        return "V g mAh-1" if self.capacity_unit == "mAh/g" else "V mAh-1"


def dq_dv_binned(
    V: NDArray[Any], capacity: NDArray[Any], sign: int, bin_width_V: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """dQ/dV by voltage binning: (bin centres, capacity between the bin's edges / width).

    ``capacity`` is the capacity passed up to each point (non-decreasing); ``sign`` the
    current's (+1: V rises, -1: V falls). See the module for the method.
    """
    if bin_width_V <= 0:
        raise ValueError(f"dQ/dV bin width must be > 0 V, got {bin_width_V}")
    V = np.asarray(V, dtype=np.float64)
    q = np.asarray(capacity, dtype=np.float64)
    if V.size < 2:
        return np.zeros(0), np.zeros(0)
    if sign < 0:  # walk it as a rising curve: reverse time, so V rises and Q falls
        V, q = V[::-1], q[::-1]
    mono = np.maximum.accumulate(V)
    lo = np.floor(mono[0] / bin_width_V) * bin_width_V
    hi = np.ceil(mono[-1] / bin_width_V) * bin_width_V
    edges = np.arange(lo, hi + 0.5 * bin_width_V, bin_width_V)
    if edges.size < 2:
        return np.zeros(0), np.zeros(0)
    # np.interp wants strictly increasing x: keep the last point of each run of equal V
    last = np.concatenate((mono[1:] != mono[:-1], [True]))
    q_at = np.interp(edges, mono[last], q[last])
    centres = 0.5 * (edges[1:] + edges[:-1])
    return centres, np.abs(np.diff(q_at)) / bin_width_V


def dv_dq_binned(
    capacity: NDArray[Any], V: NDArray[Any], bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """dV/dQ by capacity binning: (bins' mean capacity, gradient of the bin-mean V)."""
    capacity = np.asarray(capacity, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if capacity.size < 3 or capacity[-1] <= capacity[0] or bins < 2:
        return np.zeros(0), np.zeros(0)
    edges = np.linspace(capacity[0], capacity[-1], bins + 1)
    index = np.clip(np.searchsorted(edges, capacity, side="right") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=V, minlength=bins)
    q_sums = np.bincount(index, weights=capacity, minlength=bins)
    filled = counts > 0
    centres = q_sums[filled] / counts[filled]  # each bin at its points' mean capacity
    means = sums[filled] / counts[filled]
    if centres.size < 2:
        return np.zeros(0), np.zeros(0)
    return centres, np.gradient(means, centres)


def _half_points(
    run: RunData, cycle: int, sign: int
) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_]]:
    """(V, charge of each point in C, whether it is at constant voltage) of one half
    cycle's points, in order."""
    Vs: list[NDArray[Any]] = []
    dqs: list[NDArray[Any]] = []
    cvs: list[NDArray[np.bool_]] = []
    for step in run.steps:
        if step.cycle != cycle or step.kind in ("rest", "eis"):
            continue
        passed = step.charge_Ah if sign > 0 else step.discharge_Ah
        if passed <= 0:
            continue
        rows = step_samples(run, step)
        if rows.size == 0:
            continue
        cv = np.full(rows.size, step.kind == "cv")
        if step.kind == "cccv" and (start := cv_phase_start(rows)) is not None:
            cv[start:] = True
        dq = np.diff(rows["Q"], prepend=0.0)
        keep = np.sign(rows["I"]) == sign
        Vs.append(rows["V"][keep])
        dqs.append(dq[keep])
        cvs.append(cv[keep])
    if not Vs:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(Vs), np.concatenate(dqs), np.concatenate(cvs)


def differential_capacity(
    run: RunData,
    cycles: Iterable[int],
    *,
    bin_width_V: float = DEFAULT_BIN_WIDTH_V,
    capacity_bins: int = DEFAULT_CAPACITY_BINS,
) -> list[Curve]:
    """dQ/dV and dV/dQ of the charge and discharge of each chosen cycle (see the module).

    A cycle without points of a half is skipped; ValueError when none of the chosen cycles
    has any (naming the cycles the run has).
    """
    role = working_electrode(run.cell.chemistry, run.options)
    mass_g = run.cell.active_mass_kg * 1e3 if run.cell.active_mass_kg else None
    unit = "mAh/g" if mass_g else "mAh"
    scale = 1.0 / 3.6 / (mass_g or 1.0)  # C → mAh (per g)
    method = (
        f"dQ/dV: voltage binning, {bin_width_V * 1e3:g} mV bins, Q(V) interpolated at the "
        f"bin edges; dV/dQ: {capacity_bins} equal capacity bins, gradient of bin-mean V; "
        "constant-voltage points left out"
    )
    curves: list[Curve] = []
    wanted = list(cycles)
    for cycle in wanted:
        for half, sign in (("charge", role.charge_sign), ("discharge", -role.charge_sign)):
            V, dq, cv = _half_points(run, cycle, sign)
            if int((~cv).sum()) < 3:
                continue
            capacity = np.cumsum(np.abs(dq) * scale)
            cc_V, cc_q = V[~cv], capacity[~cv]
            v_c, dqdv = dq_dv_binned(cc_V, cc_q, sign, bin_width_V)
            q_c, dvdq = dv_dq_binned(cc_q, cc_V, capacity_bins)
            curves.append(Curve(cycle, half, unit, V, capacity, cv, v_c, dqdv, q_c, dvdq, method))
    if not curves:
        have = sorted({s.cycle for s in run.steps if s.cycle > 0})
        raise ValueError(
            f"no galvanostatic points in cycles {wanted}; the run has cycles "
            f"{have[0] if have else '-'}..{have[-1] if have else '-'}"
        )
    return curves
