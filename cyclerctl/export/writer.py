"""Writing one run to a file in each of the export formats (:mod:`.formats`).

Imported by ``cyclerctl.export`` only when a run is exported: it needs the store, numpy and
pyarrow, which the CLI must not load just to list the formats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cyclerctl.export import bdf, cycles, mpt
from cyclerctl.export.formats import FORMATS
from cyclerctl.export.stream import iter_impedance, iter_samples
from cyclerctl.store import RunInfo, Store
from cyclerctl.store.serialize import jsonable


def _run(store: Store, run_id: int) -> RunInfo:
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(f"no run {run_id}")
    return run


def metadata(store: Store, run_id: int) -> dict[str, Any]:
    """Everything about the run except its points, JSON-friendly."""
    run = _run(store, run_id)
    snapshot = store.run_snapshot(run_id) or {}
    results = {
        name: {"value": r.value, "unit": r.unit, "data": r.data, "version": r.analysis_version}
        for name, r in store.results(run_id).items()
    }
    return {
        "format": "cyclerctl run export",
        "run": run.as_dict(),
        "cell": snapshot.get("cell"),
        "protocol_text": snapshot.get("protocol_text"),
        "steps": [jsonable(s) for s in store.steps(run_id)],
        "results": jsonable(results),
        "columns": {name: name.rsplit(" / ", 1)[-1] for name, _ in bdf.COLUMNS},
    }


def _started_unix_s(run: RunInfo) -> float | None:
    return run.started_at.timestamp() if run.started_at is not None else None


def export_run(store: Store, run_id: int, fmt: str, path: str | Path) -> Path:
    """Write run ``run_id`` to ``path`` in ``fmt`` (one of :data:`FORMATS`); the path written.

    KeyError for an unknown run, ValueError for an unknown format (or, for ``cycles-*``, a
    run without a per-cycle table).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    run = _run(store, run_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "ro-crate":  # a directory made from the other formats: export/rocrate.py
        raise ValueError("ro-crate is written by cyclerctl.export.export_run (export/rocrate.py)")
    if fmt.startswith("cycles-"):
        cycles.write_cycles(store, run.id, path, parquet=fmt == "cycles-parquet")
    elif fmt == "mpt":
        _write_mpt(store, run, path)
    else:
        _write_bdf(store, run, path, fmt)
    return path


def export_differential_capacity(
    store: Store, run_id: int, cycle_numbers: list[int], path: str | Path, **method: Any
) -> Path:
    """dQ/dV and dV/dQ of the chosen cycles to ``path`` (.csv with a .json sidecar, or
    .parquet); ``method`` passes ``bin_width_V`` / ``capacity_bins`` on."""
    from cyclerctl.reanalysis import differential_capacity

    _run(store, run_id)
    curves = differential_capacity(store, run_id, cycle_numbers, **method)
    return cycles.write_differential_capacity(curves, path, run_id=run_id)


def _write_bdf(store: Store, run: RunInfo, path: Path, fmt: str) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    meta = metadata(store, run.id)
    table = bdf.BdfTable(_started_unix_s(run))
    schema = bdf.schema()
    if fmt == "parquet":
        schema = schema.with_metadata({"cyclerctl": json.dumps(meta, default=str)})
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for chunk in iter_samples(store, run.id):
                writer.write_batch(table.batch(chunk).replace_schema_metadata(schema.metadata))
    else:
        with pacsv.CSVWriter(path, schema) as writer:
            for chunk in iter_samples(store, run.id):
                writer.write_batch(table.batch(chunk))
        sidecar = path.with_name(path.name + ".json")
        sidecar.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def _mpt_header(store: Store, run: RunInfo) -> list[str]:
    snapshot = store.run_snapshot(run.id) or {}
    cell = snapshot.get("cell") or {}
    started = run.started_at or run.created_at
    area = cell.get("area_m2")
    mass = cell.get("active_mass_kg")
    lines = [
        "",
        f"cyclerctl run {run.id}: {run.protocol_name}",
        "",
        f"Run on channel : {run.channel}",
        f"User : {run.operator}",
        f"Acquisition started on : {started.strftime('%m/%d/%Y %H:%M:%S.%f')[:-3]}",
        f"Device : {run.instrument.get('model', '')} (SN {run.instrument.get('serial', '')})",
        f"Run GUID : {run.guid}",
        f"Protocol : {run.protocol_name} (sha256 {run.protocol_sha256})",
        f"Cell : {run.cell_name}",
        f"Electrode surface area : {(area or 0.0) * 1e4:.3f} cm²",
        f"Characteristic mass : {(mass or 0.0) * 1e3:.3f} g",
        f"Status : {run.status} ({run.end_reason or ''})",
        "",
    ]
    return [line.encode(mpt.ENCODING, "replace").decode(mpt.ENCODING) for line in lines]


def _write_mpt(store: Store, run: RunInfo, path: Path) -> None:
    impedance_blocks = list(iter_impedance(store, run.id))  # small: a few hundred points
    import numpy as np

    from cyclerctl.store import IMPEDANCE_ROW_DTYPE

    impedance = (
        np.concatenate(impedance_blocks) if impedance_blocks else np.empty(0, IMPEDANCE_ROW_DTYPE)
    )
    has_samples = store.last_seq(run.id) > 0
    has_T = bool(np.isfinite(impedance["T"]).any()) or _any_temperature(store, run.id)
    with open(path, "w", encoding=mpt.ENCODING, newline="") as out:
        writer = mpt.MptWriter(
            out,
            store.steps(run.id),
            eis=impedance.size > 0,
            samples=has_samples,
            temperature=has_T,
        )
        writer.write_header(_mpt_header(store, run))
        samples = iter_samples(store, run.id) if has_samples else iter(())
        for kind, rows in mpt.merge_by_time(samples, impedance):
            if kind == "samples":
                writer.write_samples(rows)
            else:
                writer.write_impedance(rows)


def _any_temperature(store: Store, run_id: int) -> bool:
    """Whether any sample knows its temperature (stops at the first that does)."""
    connection = store.engine.raw_connection()
    try:
        cursor = connection.cursor()
        p = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
        cursor.execute(
            f'SELECT 1 FROM samples WHERE run_id = {p} AND "T_K" IS NOT NULL LIMIT 1', (run_id,)
        )
        found = cursor.fetchone() is not None
        cursor.close()
    finally:
        connection.close()
    return found
