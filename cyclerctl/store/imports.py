"""Runs made from imported files: written in one transaction, found again by checksum.

An import writes the run row, every sample (chunk by chunk, as the reader streams them),
its steps, its events and its ``imported_files`` row inside *one* transaction: a file that
fails half way (corrupt, truncated, interrupted) leaves nothing behind, and a reader never
sees a run without its samples. Chunks go straight to the driver's ``executemany`` (no
shared writer thread: an import is not a live channel and needs no channel_latest row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, select

from cyclerctl.store import models
from cyclerctl.store.batch import SAMPLE_COLUMNS, step_values, write_events
from cyclerctl.store.batch import _insert_blocks as insert_blocks
from cyclerctl.store.records import EventRecord, StepRecord

__all__ = ["find_by_sha256", "imported_file", "write_import"]


def write_import(
    connection: Connection,
    run_id: int,
    blocks: Iterable[NDArray[np.void]],
    steps: Callable[[], Sequence[StepRecord]],
    source: Callable[[], Mapping[str, Any]],
    events: Callable[[], Sequence[EventRecord]] = tuple,
) -> int:
    """Inside the caller's transaction: samples, then steps, events and the source row
    (``steps``, ``events`` and ``source`` are asked for after the last block). Returns the
    number of samples."""
    count = 0
    for block in blocks:
        if len(block):
            insert_blocks(connection, models.samples, SAMPLE_COLUMNS, [(run_id, block)], ("T",))
            count += len(block)
    rows = [step_values(run_id, record) for record in steps()]
    if rows:
        connection.execute(models.steps.insert(), rows)
    write_events(connection, [(run_id, event) for event in events()])
    connection.execute(models.imported_files.insert().values(run_id=run_id, **source()))
    return count


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
