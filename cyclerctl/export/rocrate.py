"""``export RUN --format ro-crate -o DIR``: one run as an RO-Crate (a FAIR bundle).

Built with the ``rocrate`` library (ResearchObject/ro-crate-py, Apache-2.0; the ``import``
extra). The directory holds:

- ``samples.csv`` and ``samples.parquet``: every point as Battery Data Format (:mod:`.bdf`),
  and ``run.json``: the run's metadata as the csv export's sidecar gives it;
- ``steps.csv``: the executed steps (cycle, kind, times, charge/discharge Ah and Wh);
- ``protocol.toml`` (or ``.txt`` for an imported run: the tester's program as its file held
  it), ``cell.json``, ``results.json``;
- ``cycles.csv`` and ``cycles.parquet``: the per-cycle table (:mod:`.cycles`), when the
  run has one (a cycling analysis stored it); and whatever a writer registered in
  :data:`EXTRA_TABLES` adds;
- ``ro-crate-metadata.json``: the root Dataset, one File entity per file above with its
  ``sha256``, ``contentSize`` and ``encodingFormat``; the run as a ``CreateAction`` (agent:
  the operator; instrument: the instrument as an ``IndividualProduct``; object: the cell and,
  for an imported run, the source file with its own sha256; result: the data files; start
  and end times); the cell as a contextual entity.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cyclerctl.export import writer
from cyclerctl.store import Store
from cyclerctl.store.serialize import jsonable

__all__ = ["EXTRA_TABLES", "export_run", "write_crate"]

#: Writers of further tables, each ``(store, run_id, directory) -> [(path, description)]``
#: of the files it wrote there: a new table joins the crate by appending its writer here.
EXTRA_TABLES: list[Callable[[Store, int, Path], list[tuple[Path, str]]]] = []

FORMATS = {
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".toml": "application/toml",
    ".txt": "text/plain",
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _write_steps(store: Store, run_id: int, path: Path) -> None:
    columns = ["step", "plan_index", "name", "kind", "cycle", "t_start_s", "t_end_s",
               "end_reason", "charge_Ah", "discharge_Ah", "charge_Wh", "discharge_Wh"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for s in store.steps(run_id):
            writer.writerow([s.step, s.plan_index, s.name, s.kind, s.cycle, s.t_start, s.t_end,
                             s.end_reason, s.charge_Ah, s.discharge_Ah, s.charge_Wh,
                             s.discharge_Wh])  # fmt: skip


def export_run(store: Store, run_id: int, fmt: str, path: str | Path) -> Path:
    """:func:`cyclerctl.export.export_run`: ``ro-crate`` here, every other format by the
    writer (which the crate is made of, so the writer cannot dispatch to it)."""
    if fmt == "ro-crate":
        return write_crate(store, run_id, path)
    return writer.export_run(store, run_id, fmt, path)


def write_crate(store: Store, run_id: int, directory: str | Path, *, license: str = "") -> Path:
    """Write run ``run_id`` as an RO-Crate in ``directory`` (created; must be empty if it
    exists). ``license``: a URL for the root's license, when the lab has chosen one."""
    try:
        from rocrate.model.contextentity import ContextEntity
        from rocrate.rocrate import ROCrate
    except ImportError:
        raise RuntimeError(
            "the ro-crate export needs rocrate: pip install 'cyclerctl[import]'"
        ) from None
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(f"no run {run_id}")
    out = Path(directory)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: not empty; an RO-Crate goes into a new or empty directory")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    snapshot = store.run_snapshot(run_id) or {}
    source = store.imported_file(run_id)

    files: list[tuple[Path, str]] = []
    csv_path = writer.export_run(store, run_id, "csv", staging / "samples.csv")
    sidecar = csv_path.with_name(csv_path.name + ".json")
    sidecar.rename(staging / "run.json")
    files.append((csv_path, "every point, Battery Data Format columns (CSV)"))
    parquet = writer.export_run(store, run_id, "parquet", staging / "samples.parquet")
    files.append((parquet, "every point, Battery Data Format columns (parquet)"))
    files.append((staging / "run.json", "the run's metadata: protocol, cell, steps, results"))
    _write_steps(store, run_id, staging / "steps.csv")
    files.append((staging / "steps.csv", "executed steps with their capacities and energies"))
    suffix = ".toml" if run.protocol_source.endswith(".toml") else ".txt"
    protocol = staging / f"protocol{suffix}"
    protocol.write_text(snapshot.get("protocol_text") or "", encoding="utf-8")
    files.append((protocol, f"the protocol {run.protocol_name} (sha256 {run.protocol_sha256})"))
    cell_file = staging / "cell.json"
    cell_file.write_text(json.dumps(snapshot.get("cell"), indent=2, default=str), "utf-8")
    files.append((cell_file, f"the cell {run.cell_name}"))
    results = {
        name: {"value": r.value, "unit": r.unit, "data": r.data, "version": r.analysis_version}
        for name, r in store.results(run_id).items()
    }
    results_file = staging / "results.json"
    results_file.write_text(json.dumps(jsonable(results), indent=2, default=str), "utf-8")
    files.append((results_file, "analysis results"))
    for fmt, name in (("cycles-csv", "cycles.csv"), ("cycles-parquet", "cycles.parquet")):
        try:
            table = writer.export_run(store, run_id, fmt, staging / name)
        except ValueError:  # no per-cycle table: not a cycling run, or not analysed
            break
        files.append((table, f"the per-cycle table ({name.rsplit('.', 1)[1]})"))
        sidecar = table.with_name(table.name + ".json")
        if sidecar.is_file():
            files.append((sidecar, f"the per-cycle table's column units and metadata ({name})"))
    for extra in EXTRA_TABLES:
        files.extend(extra(store, run_id, staging))

    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = f"cyclerctl run {run.id}: {run.protocol_name} on {run.cell_name}"
    root["description"] = (
        f"Battery test run {run.guid}: protocol {run.protocol_name}, cell {run.cell_name}, "
        f"channel {run.channel}, status {run.status} ({run.end_reason or ''})."
    )
    root["datePublished"] = datetime.now(UTC).isoformat(timespec="seconds")
    root["identifier"] = f"urn:uuid:{run.guid}"
    if license:
        root["license"] = {"@id": license}
    entities = []
    for path, description in files:
        entities.append(
            crate.add_file(
                path,
                dest_path=path.name,
                properties={
                    "name": path.name,
                    "description": description,
                    "encodingFormat": FORMATS.get(path.suffix, "application/octet-stream"),
                    "contentSize": str(path.stat().st_size),
                    "sha256": _sha256(path),
                },
            )
        )
    maker_model = [str(run.instrument[k]) for k in ("vendor", "model") if run.instrument.get(k)]
    instrument = crate.add(
        ContextEntity(
            crate,
            "#instrument",
            properties={
                "@type": "IndividualProduct",
                "name": " ".join(maker_model) or "instrument",
                "serialNumber": str(run.instrument.get("serial", "")),
                "softwareVersion": str(run.instrument.get("firmware", "")),
                "description": json.dumps(run.instrument, default=str),
            },
        )
    )  # fmt: skip
    cell = snapshot.get("cell") or {}
    cell_entity = crate.add(
        ContextEntity(
            crate,
            "#cell",
            properties={
                "@type": "Thing",
                "name": run.cell_name,
                "description": json.dumps(jsonable(cell), default=str),
            },
        )
    )
    objects: list[Any] = [cell_entity]
    if source is not None:
        objects.append(
            crate.add(
                ContextEntity(
                    crate,
                    "#source-file",
                    properties={
                        "@type": "CreativeWork",
                        "name": source["file_name"],
                        "description": (
                            f"{source['vendor']} file ({source['format_version']}), tester "
                            f"channel {source['tester_channel']}, test {source['test_id']}, "
                            f"read by {source['reader']}"
                        ),
                        "contentSize": str(source["file_size"]),
                        "sha256": source["sha256"],
                    },
                )
            )
        )
    action: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"run {run.id} ({run.protocol_name})",
        "instrument": {"@id": instrument.id},
        "object": [{"@id": o.id} for o in objects],
        "result": [{"@id": e.id} for e in entities],
        "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"}
        if run.is_completed
        else {"@id": "http://schema.org/ActiveActionStatus"},
    }
    if run.operator:
        agent = crate.add(
            ContextEntity(crate, "#operator", properties={"@type": "Person", "name": run.operator})
        )
        action["agent"] = {"@id": agent.id}
    for key, when in (("startTime", run.started_at or run.created_at), ("endTime", run.ended_at)):
        if when is not None:
            action[key] = when.isoformat()
    crate.add(ContextEntity(crate, "#run", properties=action))
    root["mentions"] = {"@id": "#run"}  # a single value: RO-Crate prefers it to [x]
    crate.write(staging)
    if out.exists():
        out.rmdir()
    staging.rename(out)
    return out
