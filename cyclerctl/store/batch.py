"""One writer transaction: everything queued since the last commit, written together.

Samples, impedance points, step rows, events, the checkpoint and the channel's latest
point all commit in one transaction, so a crash can never leave the checkpoint ahead of
(or behind) the samples it covers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Dialect, Table, bindparam, literal_column, or_, select

from cyclerctl.store import models
from cyclerctl.store.records import (
    ACTIVE_STATUSES,
    Checkpoint,
    EventRecord,
    StepRecord,
    utcnow,
)
from cyclerctl.store.upsert import insert, insert_ignore_arrays_sql, insert_ignore_sql

SAMPLE_COLUMNS = ("run_id", "seq", "t", "V", "I", "Q", "T_K", "step", "cycle")
IMPEDANCE_COLUMNS = ("run_id", "seq", "step", "f", "Zre", "Zim", "V_dc", "T_K", "t")


def rows(
    run_id: int, block: NDArray[np.void], nullable: tuple[str, ...], nan_to_none: bool
) -> list[tuple[Any, ...]]:
    """``block`` as plain tuples prefixed with ``run_id``, ready for ``executemany``.

    SQLite stores a NaN as NULL by itself; other databases keep NaN, so unknown values in
    ``nullable`` fields become None explicitly there.
    """
    values: list[tuple[Any, ...]] = block.tolist()
    names = block.dtype.names or ()
    if nan_to_none:
        blanks = {names.index(n) for n in nullable if np.isnan(block[n]).any()}
        if blanks:
            values = [
                tuple(None if i in blanks and v != v else v for i, v in enumerate(row))
                for row in values
            ]
    return [(run_id, *row) for row in values]


def column_arrays(
    run_id: int, block: NDArray[np.void], nullable: tuple[str, ...]
) -> tuple[list[Any], ...]:
    """``block`` as one list per column, prefixed with the ``run_id`` column: parameters
    for :func:`insert_ignore_arrays_sql`. NaN in ``nullable`` fields becomes None (NULL)."""
    arrays: list[list[Any]] = [[run_id] * len(block)]
    for name in block.dtype.names or ():
        values: list[Any] = block[name].tolist()
        if name in nullable and np.isnan(block[name]).any():
            values = [None if v != v else v for v in values]
        arrays.append(values)
    return tuple(arrays)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Batch:
    samples: list[NDArray[np.void]] = field(default_factory=list)
    impedance: list[NDArray[np.void]] = field(default_factory=list)
    steps: dict[int, StepRecord] = field(default_factory=dict)  # by ordinal, newest wins
    events: list[EventRecord] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    rows: int = 0

    def add(self, item: object) -> None:
        if isinstance(item, StepRecord):
            self.steps[item.step] = item
        elif isinstance(item, EventRecord):
            self.events.append(item)
        elif isinstance(item, Checkpoint):
            self.checkpoint = item
        elif isinstance(item, tuple):
            kind, block = item
            (self.samples if kind == "samples" else self.impedance).append(block)
            self.rows += len(block)
            return
        else:
            raise TypeError(f"cannot write {item!r}")
        self.rows += 1

    def __bool__(self) -> bool:
        return bool(self.rows)

    def write(self, connection: Connection, run_id: int, channel: str) -> None:
        """Execute every pending write on ``connection``, inside the caller's transaction."""
        write_batches(connection, [(run_id, channel, self)])


def write_batches(connection: Connection, batches: Sequence[tuple[int, str, Batch]]) -> None:
    """Execute the pending writes of many runs — ``(run_id, channel, batch)`` — inside the
    caller's transaction: one statement per table for all of them (256 channels cost a few
    executemany calls a second, not a thousand statements)."""
    samples = [(r, b.samples[0] if len(b.samples) == 1 else np.concatenate(b.samples))
               for r, _c, b in batches if b.samples]  # fmt: skip
    if samples:
        _insert_blocks(connection, models.samples, SAMPLE_COLUMNS, samples, ("T",))
        channel_of = {r: c for r, c, _b in batches}
        connection.execute(
            _latest_statement(connection.dialect),
            [_latest_values(r, channel_of[r], block[-1]) for r, block in samples],
        )
    impedance = [(r, np.concatenate(b.impedance)) for r, _c, b in batches if b.impedance]
    if impedance:
        _insert_blocks(connection, models.impedance, IMPEDANCE_COLUMNS, impedance, ("V_dc", "T"))
    steps = [step_values(r, record) for r, _c, b in batches for record in b.steps.values()]
    if steps:
        connection.execute(_upsert_statement(models.steps, connection.dialect), steps)
    write_events(connection, [(r, e) for r, _c, b in batches for e in b.events])
    checkpoints = [
        checkpoint_values(r, b.checkpoint) for r, _c, b in batches if b.checkpoint is not None
    ]
    if checkpoints:
        connection.execute(_upsert_statement(models.checkpoints, connection.dialect), checkpoints)


def write_events(connection: Connection, events: Sequence[tuple[int, EventRecord]]) -> None:
    """Insert ``(run_id, event)`` pairs, in order, inside the caller's transaction."""
    if events:
        connection.execute(models.events.insert(), [event_values(r, e) for r, e in events])


@functools.cache
def _upsert_statement(table: Table, dialect: Dialect) -> Any:
    """Insert, or update every non-key column of the row with the same primary key; for
    executemany (one dict of every column per row)."""
    key = [c.name for c in table.primary_key.columns]
    statement = insert(table, dialect)
    update = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key}
    return statement.on_conflict_do_update(index_elements=key, set_=update)


@functools.cache
def _latest_statement(dialect: Dialect) -> Any:
    """The channel's newest point, for executemany. A late batch of a run that has ended
    must not take the channel back from the run that holds it now: update only the run's
    own row, a free one, or an ended run's."""
    runs, latest = models.runs, models.channel_latest
    status = select(runs.c.status).where(runs.c.id == bindparam("status_of_run"))
    statement = insert(latest, dialect).values(status=status.scalar_subquery())
    # literal statuses: an expanding IN parameter cannot go into executemany
    active: list[Any] = [literal_column(f"'{status}'") for status in ACTIVE_STATUSES]
    active_runs = select(runs.c.id).where(runs.c.status.in_(active))
    # (uncorrelated: an ON CONFLICT clause cannot correlate a subquery to its table)
    free_or_ours = or_(
        latest.c.run_id == statement.excluded.run_id,
        latest.c.run_id.is_(None),
        latest.c.run_id.not_in(active_runs),
    )
    update = {c.name: statement.excluded[c.name] for c in latest.columns if c.name != "channel"}
    return statement.on_conflict_do_update(
        index_elements=["channel"], set_=update, where=free_or_ours
    )


def _latest_values(run_id: int, channel: str, last: np.void) -> dict[str, Any]:
    return {
        "channel": channel,
        "run_id": run_id,
        "t": float(last["t"]),
        "V": float(last["V"]),
        "I": float(last["I"]),
        "Q": float(last["Q"]),
        "T_K": _finite(float(last["T"])),
        "step": int(last["step"]),
        "cycle": int(last["cycle"]),
        "status_of_run": run_id,
        "updated_at": utcnow(),
    }


def _insert_blocks(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    blocks: Sequence[tuple[int, NDArray[np.void]]],
    nullable: tuple[str, ...],
) -> None:
    """Insert the blocks' rows (``(run_id, block)`` pairs), skipping those already stored:
    the driver's executemany (SQLite stores a NaN as NULL by itself), or one array
    statement on PostgreSQL."""
    dialect = connection.dialect
    if dialect.name == "postgresql":
        arrays = [column_arrays(r, block, nullable) for r, block in blocks]
        merged = tuple([v for a in arrays for v in a[i]] for i in range(len(columns)))
        connection.exec_driver_sql(insert_ignore_arrays_sql(table, dialect, columns), merged)
    else:
        nan_to_none = dialect.name != "sqlite"
        values = [row for r, block in blocks for row in rows(r, block, nullable, nan_to_none)]
        connection.exec_driver_sql(insert_ignore_sql(table, dialect, columns), values)


def step_values(run_id: int, record: StepRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "step": record.step,
        "plan_index": record.plan_index,
        "name": record.name,
        "kind": record.kind,
        "cycle": record.cycle,
        "loop_counters": list(record.loop_counters),
        "t_start": record.t_start,
        "t_end": record.t_end,
        "end_reason": record.end_reason,
        "charge_Ah": record.charge_Ah,
        "discharge_Ah": record.discharge_Ah,
        "charge_Wh": record.charge_Wh,
        "discharge_Wh": record.discharge_Wh,
        "first_seq": record.first_seq,
        "last_seq": record.last_seq,
    }


def event_values(run_id: int, record: EventRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "t": record.t,
        "at": record.at,
        "kind": record.kind,
        "severity": record.severity,
        "message": record.message,
        "data": dict(record.data),
    }


def checkpoint_values(run_id: int, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "step": checkpoint.step,
        "plan_index": checkpoint.plan_index,
        "loop_counters": list(checkpoint.loop_counters),
        "cycle": checkpoint.cycle,
        "step_elapsed_s": checkpoint.step_elapsed_s,
        "step_charge_C": checkpoint.step_charge_C,
        "step_t_start": checkpoint.step_t_start,
        "last_seq": checkpoint.last_seq,
        "last_impedance_seq": checkpoint.last_impedance_seq,
        "updated_at": checkpoint.updated_at,
    }
