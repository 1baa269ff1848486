"""Battery Data Format (Battery Data Alliance) tables, CSV or parquet: ours and others'.

Columns are found by BDF's preferred label (``Test Time / s``) or its machine-readable name
(``test_time_second``), as BDF defines both; fastnda's BDF output (``Step ID``,
``Step Net Capacity / Ah``) is taken too. Required: test time, voltage, current. Used when
present: ``Cycle Count / 1`` (else 1), ``Step Count / 1`` (else a change of step index
starts a step), ``Step Index / 1`` / ``Step ID`` (the step's number in the program; our own
export writes the point's position in the step there, so for a cyclerctl file the step
count is used instead), ``Step Capacity / Ah`` / ``Step Net Capacity / Ah`` (else charging −
discharging capacity, BDF's "within the interval"), the net or charging − discharging
energy, ``Surface Temperature T1 / degC`` (or ambient), ``Step Type``. Read in batches
(pyarrow streaming CSV, parquet row groups), so a file larger than memory imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cyclerctl.readers.base import ImportedRun, ReadError, RunMetadata, records

__all__ = ["COLUMN_NAMES", "BdfReader"]

#: quantity → the names it goes by (preferred label, machine name, others' variants)
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "t": ("Test Time / s", "test_time_second"),
    "V": ("Voltage / V", "voltage_volt"),
    "I": ("Current / A", "current_ampere"),
    "cycle": ("Cycle Count / 1", "cycle_count"),
    "step_count": ("Step Count / 1", "step_count"),
    "step_index": ("Step Index / 1", "step_index", "Step ID", "step_id"),
    "step_capacity": (
        "Step Capacity / Ah",
        "step_capacity_ah",
        "Step Net Capacity / Ah",
        "step_net_capacity_ah",
    ),
    "charging_capacity": ("Charging Capacity / Ah", "charging_capacity_ah"),
    "discharging_capacity": ("Discharging Capacity / Ah", "discharging_capacity_ah"),
    "step_energy": ("Step Net Energy / Wh", "step_net_energy_wh"),
    "charging_energy": ("Charging Energy / Wh", "charging_energy_wh"),
    "discharging_energy": ("Discharging Energy / Wh", "discharging_energy_wh"),
    "T": (
        "Surface Temperature T1 / degC",
        "temperature_t1_celsius",
        "Ambient Temperature / degC",
        "ambient_temperature_celsius",
    ),
    "unix": ("Unix Time / s", "unix_time_second"),
    "step_type": ("Step Type", "step_type"),
}
REQUIRED = ("t", "V", "I")
BLOCK_BYTES = 8 << 20


def _columns(names: list[str]) -> dict[str, str]:
    """quantity → the file's column for it."""
    found: dict[str, str] = {}
    for quantity, aliases in COLUMN_NAMES.items():
        for alias in aliases:
            if alias in names:
                found[quantity] = alias
                break
    return found


def _schema_names(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        return list(pq.read_schema(path).names)
    with open(path, encoding="utf-8", errors="replace") as f:
        return [c.strip().strip('"') for c in f.readline().rstrip("\r\n").split(",")]


class BdfReader:
    vendor: str = "bdf"
    suffixes: tuple[str, ...] = (".csv", ".parquet")

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() not in self.suffixes:
            return False
        try:
            found = _columns(_schema_names(path))
        except Exception:  # not a parquet/csv we can open: not ours to take
            return False
        return all(q in found for q in REQUIRED)

    def read(self, path: Path) -> Iterator[ImportedRun]:
        try:
            names = _schema_names(path)
        except Exception as exc:
            reason = f"not a readable BDF table ({type(exc).__name__}: {exc})"
            raise ReadError(path, reason) from exc
        found = _columns(names)
        missing = [COLUMN_NAMES[q][0] for q in REQUIRED if q not in found]
        if missing:
            raise ReadError(path, f"not a BDF table: no column {', '.join(missing)}")
        ours = self._cyclerctl_metadata(path)
        if ours is not None:
            found.pop("step_index", None)  # ours holds the point's position in the step there
        step_types: list[str] = ["(none)"]
        yield ImportedRun(
            metadata=self._metadata(path, ours),
            step_types=step_types,
            chunks=lambda: self._chunks(path, found, step_types),
            records=pq.ParquetFile(path).metadata.num_rows if path.suffix == ".parquet" else None,
            reader="cyclerctl.readers.bdf",
        )

    @staticmethod
    def _cyclerctl_metadata(path: Path) -> dict[str, Any] | None:
        """Our own export's metadata (parquet key-value, or the csv's JSON sidecar)."""
        try:
            if path.suffix.lower() == ".parquet":
                meta = pq.read_schema(path).metadata or {}
                raw = meta.get(b"cyclerctl")
                return None if raw is None else dict(json.loads(raw))
            sidecar = path.with_name(path.name + ".json")
            if sidecar.is_file():
                loaded = json.loads(sidecar.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and loaded.get("format") == "cyclerctl run export":
                    return loaded
        except (ValueError, OSError):
            return None
        return None

    @staticmethod
    def _metadata(path: Path, ours: dict[str, Any] | None) -> RunMetadata:
        if ours is None:
            return RunMetadata(vendor="bdf", format_version="BDF", test_id=path.stem)
        run = ours.get("run") or {}
        cell = ours.get("cell") or {}
        started = run.get("started_at") or run.get("created_at")
        instrument = {str(k): str(v) for k, v in (run.get("instrument") or {}).items()}
        return RunMetadata(
            vendor="bdf",
            format_version="BDF (cyclerctl export)",
            tester_channel=str(run.get("channel", "")),
            test_id=str(run.get("guid", "")),
            start_time=datetime.fromisoformat(started) if started else None,
            active_mass_kg=cell.get("active_mass_kg"),
            area_m2=cell.get("area_m2") or None,
            procedure=str(run.get("protocol_name", "")),
            procedure_text=str(ours.get("protocol_text") or ""),
            instrument=instrument,
            extra={"exported_run": run.get("id"), "exported_guid": run.get("guid")},
        )

    def _chunks(self, path: Path, found: dict[str, str], step_types: list[str]) -> Iterator[Any]:
        wanted = sorted(set(found.values()))
        if path.suffix.lower() == ".parquet":
            batches: Iterator[pa.RecordBatch] = pq.ParquetFile(path).iter_batches(columns=wanted)
        else:
            batches = iter(
                pacsv.open_csv(
                    path,
                    read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                    convert_options=pacsv.ConvertOptions(include_columns=wanted),
                )
            )
        code: dict[str, int] = {}
        last_index: int | None = None
        count = 0
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue

            def get(q: str, default: float = np.nan, b: pa.RecordBatch = batch) -> Any:
                if q not in found:
                    return np.full(b.num_rows, default)
                col = b.column(found[q])
                return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)

            block = records(n)
            block["t"], block["V"], block["I"] = get("t"), get("V"), get("I")
            if "step_capacity" in found:
                block["Q"] = get("step_capacity") * 3600.0
            else:
                net = get("charging_capacity", 0.0) - get("discharging_capacity", 0.0)
                block["Q"] = net * 3600.0
            if "step_energy" in found:
                block["E"] = get("step_energy") * 3600.0
            elif "charging_energy" in found:
                block["E"] = (get("charging_energy") - get("discharging_energy", 0.0)) * 3600.0
            block["T"] = get("T") + 273.15
            block["cycle"] = np.nan_to_num(get("cycle", 1.0), nan=1.0).astype(np.int64)
            if "step_count" in found:
                block["step_count"] = get("step_count").astype(np.int64)
            index = get("step_index", 0.0).astype(np.int64)
            if "step_count" not in found:  # a change of step index starts a step
                before = index[0] if last_index is None else last_index
                prev = np.concatenate(([before], index[:-1]))
                block["step_count"] = count + np.cumsum(index != prev) + (last_index is None)
                count = int(block["step_count"][-1])
                last_index = int(index[-1])
            block["step_index"] = index if "step_index" in found else block["step_count"]
            if "step_type" in found:
                names = batch.column(found["step_type"]).to_pylist()
                for name in set(names) - code.keys():
                    code[str(name)] = len(step_types)
                    step_types.append(str(name))
                block["step_type"] = [code[str(v)] for v in names]
            yield block
