"""Hand-built runs for analysis tests: steps, points and spectra from known formulas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyclerctl.analysis import RunData
from cyclerctl.plan import CellSummary
from cyclerctl.store import StepRecord
from cyclerctl.store.records import IMPEDANCE_ROW_DTYPE, SAMPLE_ROW_DTYPE

DISK_12MM_M2 = np.pi * 0.006**2
DISK_16MM_M2 = np.pi * 0.008**2


def cell(
    area_m2: float = DISK_12MM_M2,
    thickness_m: float | None = 100e-6,
    nominal_capacity_Ah: float | None = None,
    active_mass_kg: float | None = None,
) -> CellSummary:
    return CellSummary(
        name="test cell",
        chemistry="Li|QSE|Li",
        area_m2=area_m2,
        nominal_capacity_Ah=nominal_capacity_Ah,
        active_mass_kg=active_mass_kg,
        thickness_m=thickness_m,
    )


@dataclass
class RunBuilder:
    """Appends steps one after another on one run clock, as the engine would store them."""

    cell: CellSummary = field(default_factory=cell)
    parameters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    samples: list[np.ndarray[Any, Any]] = field(default_factory=list)
    spectra: list[np.ndarray[Any, Any]] = field(default_factory=list)
    t: float = 0.0
    seq: int = 0
    impedance_seq: int = 0

    def step(
        self,
        name: str,
        kind: str,
        t: np.ndarray[Any, Any],
        V: np.ndarray[Any, Any],
        I: np.ndarray[Any, Any],
        *,
        cycle: int = 0,
        end_reason: str | None = "time",
        T_K: float = 298.15,
        charges: tuple[float, float] | None = None,
    ) -> StepRecord:
        """A step whose points are (t from the step start, V, I); charge and discharge are
        integrated from I unless given as ``charges`` (Ah)."""
        t = np.asarray(t, dtype=float)
        n = t.size
        rows = np.zeros(n, dtype=SAMPLE_ROW_DTYPE)
        rows["seq"] = np.arange(self.seq + 1, self.seq + n + 1)
        rows["t"] = self.t + t
        rows["V"] = V
        rows["I"] = I
        rows["T"] = T_K
        rows["step"] = len(self.steps) + 1
        rows["cycle"] = cycle
        dq = np.diff(t) * 0.5 * (I[1:] + I[:-1])  # trapezoids, C
        rows["Q"] = np.concatenate([[0.0], np.cumsum(dq)])[:n]
        if charges is None:
            charges = (float(dq[dq > 0].sum()) / 3600.0, float(-dq[dq < 0].sum()) / 3600.0)
        duration = float(t[-1]) if n else 0.0
        record = StepRecord(
            step=len(self.steps) + 1,
            plan_index=len(self.steps),
            name=name,
            kind=kind,
            cycle=cycle,
            loop_counters=(),
            t_start=self.t,
            t_end=self.t + duration if end_reason is not None else None,
            end_reason=end_reason,
            charge_Ah=charges[0],
            discharge_Ah=charges[1],
            first_seq=int(rows["seq"][0]) if n else None,
            last_seq=int(rows["seq"][-1]) if n else None,
        )
        self.steps.append(record)
        self.samples.append(rows)
        self.seq += n
        self.t += duration
        return record

    def cc(
        self,
        name: str,
        current_A: float,
        duration_s: float,
        V: Any,
        *,
        points: int = 200,
        **kw: Any,
    ) -> StepRecord:
        """A constant-current step; ``V`` is a function of t (s from the step start) or a value."""
        t = np.linspace(0.0, duration_s, points)
        volts = V(t) if callable(V) else np.full(points, float(V))
        return self.step(name, "cc", t, volts, np.full(points, current_A), **kw)

    def eis(
        self,
        name: str,
        f: np.ndarray[Any, Any],
        Z: np.ndarray[Any, Any],
        *,
        T_K: float = 298.15,
        end_reason: str | None = "completed",
    ) -> StepRecord:
        duration = float(np.sum(1.0 / f))
        record = StepRecord(
            step=len(self.steps) + 1,
            plan_index=len(self.steps),
            name=name,
            kind="eis",
            cycle=0,
            loop_counters=(),
            t_start=self.t,
            t_end=self.t + duration,
            end_reason=end_reason,
        )
        self.steps.append(record)
        rows = np.zeros(f.size, dtype=IMPEDANCE_ROW_DTYPE)
        rows["seq"] = np.arange(self.impedance_seq + 1, self.impedance_seq + f.size + 1)
        rows["step"] = record.step
        rows["f"] = f
        rows["Zre"] = Z.real
        rows["Zim"] = Z.imag
        rows["T"] = T_K
        rows["t"] = self.t + np.cumsum(1.0 / f)
        self.spectra.append(rows)
        self.impedance_seq += f.size
        self.t += duration
        return record

    def build(self, end_reason: str | None = "completed", **options: Any) -> RunData:
        empty_s = np.zeros(0, dtype=SAMPLE_ROW_DTYPE)
        empty_z = np.zeros(0, dtype=IMPEDANCE_ROW_DTYPE)
        return RunData(
            cell=self.cell,
            parameters=dict(self.parameters),
            options={**self.options, **options},
            steps=tuple(self.steps),
            samples=np.concatenate(self.samples) if self.samples else empty_s,
            impedance=np.concatenate(self.spectra) if self.spectra else empty_z,
            end_reason=end_reason,
        )


def noisy(Z: np.ndarray[Any, Any], rel: float, seed: int) -> np.ndarray[Any, Any]:
    """Z with seeded complex noise proportional to |Z| (as a real analyser's)."""
    rng = np.random.default_rng(seed)
    scale = rel * np.abs(Z)
    out: np.ndarray[Any, Any] = Z + scale * (
        rng.standard_normal(Z.size) + 1j * rng.standard_normal(Z.size)
    )
    return out


def frequencies(f_start: float = 1e5, f_stop: float = 0.1, per_decade: int = 10) -> Any:
    decades = np.log10(f_start / f_stop)
    return np.logspace(np.log10(f_start), np.log10(f_stop), round(float(decades) * per_decade) + 1)
