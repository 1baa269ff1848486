"""The per-cycle table of a cycling run, and differential-capacity curves, as files.

``cycles-csv`` / ``cycles-parquet``: one row per cycle with the columns of
:data:`cyclerctl.analysis.cycling.COLUMNS` (units in the column names' suffixes and in the
metadata), read from the run's stored ``cycles`` result; the table's metadata (which half
is charge for this cell, the reference cycle, the run-level results, units) goes to a JSON
sidecar ``<PATH>.json`` for CSV and to the file's key-value metadata for Parquet.

:func:`write_differential_capacity`: dQ/dV and dV/dQ curves in long format (cycle, half,
quantity, x, x_unit, y, y_unit), the method in the sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cyclerctl.analysis.cycling import COLUMNS
from cyclerctl.analysis.dqdv import Curve
from cyclerctl.store import Store
from cyclerctl.store.serialize import jsonable

RUN_LEVEL = (
    "first_cycle_ce", "capacity_retention", "mean_ce", "cycle_at_80pct_retention",
    "cycles_completed", "first_discharge_capacity_mAh", "first_discharge_capacity_mAh_g",
)  # fmt: skip


def cycle_table(store: Store, run_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stored per-cycle rows and their metadata; ValueError when the run has none."""
    results = store.results(run_id)
    table = results.get("cycles")
    rows = table.data if table is not None else None
    if not rows or not isinstance(rows, list) or "coulombic_efficiency" not in rows[0]:
        raise ValueError(
            f"run {run_id} has no per-cycle table (a cycling analysis, version cycling/2 or "
            "later, makes one; `cyclerctl analyze RUN` recomputes it)"
        )
    meta_result = results.get("cycles_metadata")
    meta = dict(meta_result.data) if meta_result is not None and meta_result.data else {}
    meta["run_id"] = run_id
    meta["analysis_version"] = table.analysis_version if table is not None else None
    meta["run_results"] = {
        name: {"value": results[name].value, "unit": results[name].unit}
        for name in RUN_LEVEL
        if name in results
    }
    return rows, meta


def _arrow_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Any:
    import pyarrow as pa

    types = {name: pa.float64() for name in columns}
    for name in ("cycle",):
        if name in types:
            types[name] = pa.int64()
    return pa.table(
        {name: pa.array([r.get(name) for r in rows], type=types[name]) for name in columns}
    )


def _write_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    meta: dict[str, Any],
    path: Path,
    parquet: bool,
) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = _arrow_table(rows, columns)
    text = json.dumps(jsonable(meta), indent=2, default=str)
    if parquet:
        table = table.replace_schema_metadata({"cyclerctl": text})
        pq.write_table(table, path, compression="zstd")
    else:
        pacsv.write_csv(table, path)
        path.with_name(path.name + ".json").write_text(text, encoding="utf-8")


def write_cycles(store: Store, run_id: int, path: Path, *, parquet: bool) -> None:
    rows, meta = cycle_table(store, run_id)
    _write_table(rows, COLUMNS, meta, path, parquet)


def write_differential_capacity(
    curves: Sequence[Curve], path: str | Path, *, run_id: int | None = None
) -> Path:
    """The curves as a long-format CSV (with ``<PATH>.json``: method, cycles), or Parquet
    when the path ends in ``.parquet``; the path written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [row for curve in curves for row in curve.rows()]
    names = ("cycle", "half", "quantity", "x", "x_unit", "y", "y_unit")
    table = pa.table({name: [r[name] for r in rows] for name in names})
    meta = {
        "run_id": run_id,
        "method": curves[0].method if curves else None,
        "curves": [{"cycle": c.cycle, "half": c.half, "points": int(c.V.size)} for c in curves],
        "columns": {
            "x": "V for dQ/dV, capacity for dV/dQ (x_unit)",
            "y": "dQ/dV or dV/dQ (y_unit)",
        },
    }
    text = json.dumps(meta, indent=2)
    if path.suffix == ".parquet":
        pq.write_table(table.replace_schema_metadata({"cyclerctl": text}), path)
    else:
        pacsv.write_csv(table, path)
        path.with_name(path.name + ".json").write_text(text, encoding="utf-8")
    return path
