"""Maccor raw data exports (``.0NN``, tab-separated text), read by our own few lines.

No maintained Python reader fits: the text is plain enough that pyarrow's streaming CSV
reader (already a dependency) reads it in chunks, so a file larger than memory imports.
Layout (as in ``../shared/data/maccor``, Maccor's own export): line 1 is a header
(``Today's Date … Date of Test: … Filename: … Procedure: … Comment/Barcode: …``), line 2
the column names, then one record per line: ``Rec#``, ``Cyc#`` (the tester's cycle
index), ``Step`` (its step number in the procedure), ``Test (Sec)``, ``Amp-hr`` and
``Watt-hr`` (capacity and energy *within the step*, unsigned), ``Amps``, ``Volts``,
``State`` (C charge, D discharge, R rest, O/S/E other), ``DPt Time``. The file's
extension is the tester's channel number (``.078`` → channel 78).

Signs: Amp-hr and Watt-hr are magnitudes; a C record's are charge (+), a D record's
discharge (−), a record in another state (S, the step's stop record) keeps the sign of the
C/D record before it. The current keeps the file's sign where it has one (exports differ: some
write discharge negative, some positive) but takes the State's: |I| on C, −|I| on D.
A step is a stretch of one (Cyc#, Step); its type is its State (``Charge`` …).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cyclerctl.readers.base import ImportedRun, ReadError, RunMetadata, records

__all__ = ["STATES", "MaccorReader"]

#: Maccor's State letters, in code order.
STATES = ("R", "C", "D", "O", "S", "E")
STATE_NAMES = ("Rest", "Charge", "Discharge", "Other", "Stop", "End")
COLUMNS = ("Cyc#", "Step", "Test (Sec)", "Amp-hr", "Watt-hr", "Amps", "Volts", "State")
BLOCK_BYTES = 8 << 20


def _header_fields(line: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key in ("Date of Test", "Filename", "Procedure", "Comment/Barcode"):
        m = re.search(re.escape(key) + r":\s*(.*?)(?=\s+(?:Date of Test|Filename|Procedure|"
                      r"Comment/Barcode):|$)", line)  # fmt: skip
        if m:
            fields[key] = m.group(1).strip()
    return fields


class MaccorReader:
    vendor: str = "maccor"
    suffixes: tuple[str, ...] = ()  # the suffix is a channel number: .001 … .999, taken by sniffing

    def sniff(self, path: Path, head: bytes) -> bool:
        lines = head.split(b"\n", 2)
        return (
            re.fullmatch(r"\.\d{3}", path.suffix) is not None
            and len(lines) > 1
            and lines[1].startswith(b"Rec#\tCyc#\tStep")
        )

    def read(self, path: Path) -> Iterator[ImportedRun]:
        with open(path, encoding="latin-1") as f:
            first = f.readline().rstrip("\r\n")
            names = f.readline().rstrip("\r\n").split("\t")
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise ReadError(path, f"not a Maccor raw export: no column(s) {', '.join(missing)}")
        header = _header_fields(first)
        yield ImportedRun(
            metadata=self._metadata(path, header),
            step_types=STATE_NAMES,
            chunks=lambda: self._chunks(path, names),
            records=None,
            reader="cyclerctl.readers.maccor",
        )

    def _metadata(self, path: Path, header: dict[str, str]) -> RunMetadata:
        start = None
        date = header.get("Date of Test", "")
        try:
            start = datetime.strptime(date, "%m/%d/%Y") if date else None
        except ValueError:
            start = None
        with open(path, encoding="latin-1") as f:
            f.readline(), f.readline()
            first = f.readline().split("\t")
        with contextlib.suppress(IndexError, ValueError):
            start = datetime.strptime(first[11].strip(), "%m/%d/%Y %H:%M:%S")  # DPt Time
        procedure = header.get("Procedure", "")
        return RunMetadata(
            vendor="maccor",
            format_version="raw data export (tab-separated)",
            tester_channel=path.suffix.lstrip(".").lstrip("0") or "0",
            test_id=path.stem,
            start_time=start,
            procedure=procedure,
            instrument={"model": "Maccor", "serial": "", "firmware": ""},
            extra={
                "comment": header.get("Comment/Barcode", ""),
                "filename": header.get("Filename", ""),
            },
        )

    def _chunks(self, path: Path, names: list[str]) -> Iterator[Any]:
        types = {c: pa.float64() for c in ("Test (Sec)", "Amp-hr", "Watt-hr", "Amps", "Volts")}
        types |= {"Cyc#": pa.int64(), "Step": pa.int64(), "State": pa.string()}
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=2, column_names=names, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter="\t"),
            convert_options=pacsv.ConvertOptions(include_columns=list(COLUMNS), column_types=types),
        )
        code = {s: k for k, s in enumerate(STATES)}
        last: tuple[int, int] | None = None
        last_sign = 1.0
        count = 0
        for batch in reader:
            cyc = batch.column("Cyc#").to_numpy(zero_copy_only=False)
            stp = batch.column("Step").to_numpy(zero_copy_only=False)
            state = batch.column("State").to_numpy(zero_copy_only=False).astype(str)
            n = len(cyc)
            if n == 0:
                continue
            new = np.zeros(n, dtype=bool)
            new[0] = last is None or (int(cyc[0]), int(stp[0])) != last
            new[1:] = (cyc[1:] != cyc[:-1]) | (stp[1:] != stp[:-1])
            steps = count + np.cumsum(new)
            count = int(steps[-1])
            last = (int(cyc[-1]), int(stp[-1]))
            # a record in another state (S: the step's stop record) keeps the sign of the
            # last C/D record before it: its Amp-hr is the step's final capacity
            known = (state == "C") | (state == "D")
            sign_known = np.concatenate(([last_sign], np.where(state == "D", -1.0, 1.0)))
            at = np.maximum.accumulate(np.where(np.concatenate(([True], known)),
                                                np.arange(n + 1), 0))  # fmt: skip
            sign = sign_known[at][1:]
            last_sign = float(sign[-1])
            amps = batch.column("Amps").to_numpy(zero_copy_only=False)
            magnitude = np.abs(amps)
            current = np.where(state == "C", magnitude, np.where(state == "D", -magnitude, amps))
            block = records(n)
            block["t"] = batch.column("Test (Sec)").to_numpy(zero_copy_only=False)
            block["V"] = batch.column("Volts").to_numpy(zero_copy_only=False)
            block["I"] = current
            block["Q"] = sign * batch.column("Amp-hr").to_numpy(zero_copy_only=False) * 3600.0
            block["E"] = sign * batch.column("Watt-hr").to_numpy(zero_copy_only=False) * 3600.0
            block["step_count"] = steps
            block["step_index"] = stp
            block["cycle"] = cyc
            block["step_type"] = [code.get(s, 3) for s in state]
            yield block
