"""Battery Data Format (Battery Data Alliance, BDF) tables: fixed column labels and units.

Labels are BDF's preferred labels (``Quantity / unit``), one row per stored point. The
capacities are BDF's "within a given interval": the interval is the executed step, so
``Charging Capacity / Ah`` is the charge passed so far in a charging step (0 elsewhere).
Temperature is ``Surface Temperature T1 / degC``, empty where unknown. Run metadata goes to
a JSON sidecar (see :func:`cyclerctl.export.metadata`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

AH_PER_C = 1.0 / 3600.0

COLUMNS: tuple[tuple[str, str], ...] = (
    ("Test Time / s", "float64"),
    ("Unix Time / s", "float64"),
    ("Voltage / V", "float64"),
    ("Current / A", "float64"),
    ("Cycle Count / 1", "int64"),
    ("Step Count / 1", "int64"),
    ("Step Index / 1", "int64"),
    ("Charging Capacity / Ah", "float64"),
    ("Discharging Capacity / Ah", "float64"),
    ("Step Capacity / Ah", "float64"),
    ("Surface Temperature T1 / degC", "float64"),
)
#: BDF's machine-readable names of the same columns (parquet field metadata carries them).
MACHINE_NAMES = {
    "Test Time / s": "test_time_second",
    "Unix Time / s": "unix_time_second",
    "Voltage / V": "voltage_volt",
    "Current / A": "current_ampere",
    "Cycle Count / 1": "cycle_count",
    "Step Count / 1": "step_count",
    "Step Index / 1": "step_index",
    "Charging Capacity / Ah": "charging_capacity_ah",
    "Discharging Capacity / Ah": "discharging_capacity_ah",
    "Step Capacity / Ah": "step_capacity_ah",
    "Surface Temperature T1 / degC": "temperature_t1_celsius",
}


def schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, pa.from_numpy_dtype(np.dtype(t)), metadata={"bdf": MACHINE_NAMES[name]})
            for name, t in COLUMNS
        ]
    )


@dataclass
class BdfTable:
    """Turns sample chunks into BDF record batches; keeps the point-in-step counter."""

    started_unix_s: float | None
    _last_step: int = -1
    _index: int = 0

    def batch(self, rows: NDArray[Any]) -> pa.RecordBatch:
        n = rows.size
        step = rows["step"].astype(np.int64)
        prev = np.concatenate(([self._last_step], step[:-1]))
        new = step != prev
        # position within the step, continuing across chunks (1-based)
        starts = np.flatnonzero(new)
        index = np.arange(1, n + 1, dtype=np.int64) + self._index
        if starts.size:
            base = np.zeros(n, dtype=np.int64)
            base[starts] = index[starts] - 1
            index = index - np.maximum.accumulate(base)
        if n:
            self._last_step = int(step[-1])
            self._index = int(index[-1])
        q_ah = rows["Q"] * AH_PER_C
        t = rows["t"]
        T = rows["T"]
        unix = (
            pa.nulls(n, pa.float64())
            if self.started_unix_s is None
            else pa.array(t + self.started_unix_s)
        )
        arrays = [
            pa.array(t),
            unix,
            pa.array(rows["V"]),
            pa.array(rows["I"]),
            pa.array(rows["cycle"].astype(np.int64)),
            pa.array(step),
            pa.array(index),
            pa.array(np.where(q_ah > 0, q_ah, 0.0)),
            pa.array(np.where(q_ah < 0, -q_ah, 0.0)),
            pa.array(q_ah),
            pa.array(T - 273.15, mask=~np.isfinite(T)),
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema())
