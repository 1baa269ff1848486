"""Runs made from imported files: written in one transaction, found again by checksum.

An import writes the run row, every sample (chunk by chunk, as the reader streams them),
its steps, its events and its ``imported_files`` row inside *one* transaction: a file that
fails half way (corrupt, truncated, interrupted) leaves nothing behind, and a reader never
sees a run without its samples. Chunks go straight to the driver's ``executemany`` (no
shared writer thread: an import is not a live channel and needs no channel_latest row).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table, select

from cyclerctl.store import models
from cyclerctl.store.batch import IMPEDANCE_COLUMNS, SAMPLE_COLUMNS, step_values, write_events
from cyclerctl.store.batch import _insert_blocks as insert_blocks
from cyclerctl.store.records import EventRecord, StepRecord

__all__ = ["find_by_sha256", "imported_file", "write_import"]


def write_import(
    connection: Connection,
    run_id: int,
    blocks: Iterable[tuple[NDArray[np.void], NDArray[np.void]]],
    steps: Callable[[], Sequence[StepRecord]],
    source: Callable[[], Mapping[str, Any]],
    events: Callable[[], Sequence[EventRecord]] = tuple,
) -> int:
    """Inside the caller's transaction: samples and impedance points (``blocks`` of pairs),
    then steps, events and the source row
    (``steps``, ``events`` and ``source`` are asked for after the last block). Returns the
    number of samples.

    On SQLite the rows go to the driver's cursor (of the same connection, so in the same
    transaction) with the run id written into the statement: no per-row tuple is built or
    inspected on the way, which is what keeps a 200 000-record file near a bare
    ``executemany``. Other databases take the store's usual Core path.
    """
    sqlite = connection.dialect.name == "sqlite"
    cursor = connection.connection.cursor() if sqlite else None
    sample_sql = _sqlite_insert(models.samples, SAMPLE_COLUMNS, run_id)
    count = 0
    for block, impedance in blocks:
        if len(block) and cursor is not None:
            cursor.executemany(sample_sql, block.tolist())  # NaN T: SQLite stores NULL
        elif len(block):
            insert_blocks(connection, models.samples, SAMPLE_COLUMNS, [(run_id, block)], ("T",))
        if len(impedance):
            insert_blocks(
                connection, models.impedance, IMPEDANCE_COLUMNS, [(run_id, impedance)],
                ("V_dc", "T"),
            )  # fmt: skip
        count += len(block)
    records = steps()
    if records and cursor is not None:
        columns = tuple(c.name for c in models.steps.columns)
        cursor.executemany(
            _sqlite_insert(models.steps, columns, run_id),
            records.rows(columns[1:])  # a bulk table (readers' StepTable): no per-step record
            if hasattr(records, "rows")
            else [_step_row(record, columns[1:]) for record in records],
        )
    elif records:
        connection.execute(models.steps.insert(), [step_values(run_id, r) for r in records])
    write_events(connection, [(run_id, event) for event in events()])
    connection.execute(models.imported_files.insert().values(run_id=run_id, **source()))
    return count


def _sqlite_insert(table: Table, columns: Sequence[str], run_id: int) -> str:
    """``INSERT`` of ``columns`` (run_id first) with the run id as a literal (an int)."""
    assert columns[0] == "run_id"
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["?"] * (len(columns) - 1))
    return f"INSERT INTO {table.name} ({names}) VALUES ({int(run_id)}, {marks})"


def _step_row(record: StepRecord, columns: Sequence[str]) -> tuple[Any, ...]:
    """A StepRecord as ``columns`` (the steps table's, after run_id); loop_counters JSON."""
    values = step_values(0, record)
    values["loop_counters"] = json.dumps(values["loop_counters"])
    return tuple(values[c] for c in columns)


def find_by_sha256(connection: Connection, sha256: str) -> list[int]:
    """Runs imported from a file with these bytes, oldest first."""
    table = models.imported_files
    query = select(table.c.run_id).where(table.c.sha256 == sha256).order_by(table.c.run_id)
    return [int(r) for r in connection.execute(query).scalars()]


def imported_file(connection: Connection, run_id: int) -> dict[str, Any] | None:
    """The run's imported_files row as a dict (None: not an imported run)."""
    table = models.imported_files
    row = connection.execute(select(table).where(table.c.run_id == run_id)).one_or_none()
    return None if row is None else dict(row._mapping)
