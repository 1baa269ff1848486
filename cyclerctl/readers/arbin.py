"""Arbin MITS Pro result files (``.res``: a Microsoft Access database) via access-parser.

access-parser (pure Python, Apache-2.0) reads the Access pages itself, so no ODBC driver or
mdbtools is needed. Tables used (Arbin's names): ``Global_Table`` (one row per test: Test_ID,
Test_Name, Channel_Number, Start_DateTime as an OLE date, MASS in g, Schedule_File_Name,
Serial_Number, Software_Version) and ``Channel_Normal_Table`` (one row per record, by
Data_Point: Test_Time s, Voltage V, Current A charge-positive, Step_Index, Cycle_Index,
Charge_/Discharge_Capacity Ah and _Energy Wh, which Arbin accumulates *within a cycle*).

A step is a stretch of one (Cycle_Index, Step_Index). Q within the step is the growth of the
file's charge capacity minus that of its discharge capacity since the record before the
step (0 at a cycle's start, where Arbin resets both). The file keeps no step type: a step
whose charge capacity grows is "Charge", whose discharge capacity grows "Discharge", else
"Rest" (from the file's own capacity columns, not the current's sign).

access-parser parses a table whole, so an Arbin file is read into memory, then chunked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.readers.base import (
    CHUNK_ROWS,
    ImportedRun,
    MissingExtra,
    ReadError,
    RunMetadata,
    count_changes,
    records,
)

__all__ = ["STEP_TYPES", "ArbinReader", "read_tables"]

STEP_TYPES = ("Rest", "Charge", "Discharge")
OLE_EPOCH = datetime(1899, 12, 30)  # OLE automation dates count days from here (local time)
#: An Access (Jet 4) database begins with this page header (bytes 4..19).
JET_MAGIC = b"Standard Jet DB"


def read_tables(path: Path, names: tuple[str, ...]) -> dict[str, dict[str, list[Any]]]:
    """The named tables of an Access file, column by column (ReadError if unreadable)."""
    try:
        from access_parser import AccessParser
    except ImportError:
        raise MissingExtra(path, "access-parser") from None
    try:
        db = AccessParser(str(path))
        return {name: db.parse_table(name) for name in names}
    except Exception as exc:  # access-parser raises construct/KeyError on damaged pages
        raise ReadError(path, f"not a readable Arbin .res ({type(exc).__name__}: {exc})") from None


class ArbinReader:
    vendor: str = "arbin"
    suffixes: tuple[str, ...] = (".res",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() == ".res" or head[4:19] == JET_MAGIC

    def read(self, path: Path) -> Iterator[ImportedRun]:
        tables = read_tables(path, ("Global_Table", "Channel_Normal_Table"))
        glob, normal = tables["Global_Table"], tables["Channel_Normal_Table"]
        if not normal or not normal.get("Data_Point"):
            raise ReadError(path, "the file holds no records")
        test_ids = np.asarray(normal["Test_ID"], dtype=np.int64)
        for row, test_id in enumerate(glob.get("Test_ID", [])):
            mine = test_ids == int(test_id)
            if mine.any():
                yield self._run(path, glob, row, normal, mine)

    def _run(
        self,
        path: Path,
        glob: dict[str, list[Any]],
        row: int,
        normal: dict[str, list[Any]],
        mine: NDArray[np.bool_],
    ) -> ImportedRun:
        def col(name: str, dtype: Any = np.float64) -> NDArray[Any]:
            values: NDArray[Any] = np.asarray(normal[name], dtype=dtype)[mine]
            return values

        order = np.argsort(col("Data_Point", np.int64), kind="stable")
        t = col("Test_Time")[order]
        cycle = col("Cycle_Index", np.int64)[order]
        step_index = col("Step_Index", np.int64)[order]
        step = count_changes(cycle, step_index)
        charge_C = col("Charge_Capacity")[order] * 3600.0
        discharge_C = col("Discharge_Capacity")[order] * 3600.0
        charge_J = col("Charge_Energy")[order] * 3600.0
        discharge_J = col("Discharge_Energy")[order] * 3600.0
        starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
        lengths = np.diff(np.append(starts, step.size))

        def since_step_start(total: NDArray[Any]) -> NDArray[Any]:
            before = np.concatenate(([0.0], total[:-1]))
            new_cycle = np.concatenate(([True], cycle[1:] != cycle[:-1]))
            before[new_cycle] = 0.0  # Arbin restarts the counts with each cycle
            since: NDArray[Any] = total - np.repeat(before[starts], lengths)
            return since

        charged = since_step_start(charge_C)
        discharged = since_step_start(discharge_C)
        q = charged - discharged
        e = since_step_start(charge_J) - since_step_start(discharge_J)
        grew_charge = np.maximum.reduceat(charged, starts) > 0
        grew_discharge = np.maximum.reduceat(discharged, starts) > 0
        kind = np.where(grew_charge & ~grew_discharge, 1, np.where(grew_discharge, 2, 0))
        step_type = np.repeat(kind, lengths)
        n = t.size
        V = col("Voltage")[order]
        I = col("Current")[order]

        def chunks() -> Iterator[NDArray[np.void]]:
            for a in range(0, n, CHUNK_ROWS):
                s = slice(a, a + CHUNK_ROWS)
                block = records(len(t[s]))
                block["t"], block["V"], block["I"] = t[s], V[s], I[s]
                block["Q"], block["E"] = q[s], e[s]
                block["step_count"], block["step_index"] = step[s], step_index[s]
                block["cycle"], block["step_type"] = cycle[s], step_type[s]
                yield block

        def g(name: str) -> Any:
            values = glob.get(name)
            return values[row] if values and row < len(values) else None

        start = g("Start_DateTime")
        mass_g = g("MASS")
        import access_parser

        return ImportedRun(
            metadata=RunMetadata(
                vendor="arbin",
                format_version=str(g("Software_Version") or ""),
                tester_channel=str(g("Channel_Number") or g("Channel_Index") or ""),
                test_id=str(g("Test_Name") or g("Test_ID") or ""),
                start_time=OLE_EPOCH + timedelta(days=float(start)) if start else None,
                active_mass_kg=float(mass_g) * 1e-3 if mass_g else None,
                procedure=str(g("Schedule_File_Name") or ""),
                instrument={
                    "model": "Arbin",
                    "serial": str(g("Serial_Number") or ""),
                    "firmware": str(g("Software_Version") or ""),
                },
                extra={
                    "test_id": int(g("Test_ID") or 0),
                    "creator": str(g("Creator") or ""),
                    "comments": str(g("Comments") or ""),
                    "schedule_version": str(g("Schedule_Version") or ""),
                },
            ),
            step_types=STEP_TYPES,
            chunks=chunks,
            records=n,
            reader=f"access-parser {getattr(access_parser, '__version__', '')}".strip(),
        )
