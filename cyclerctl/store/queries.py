"""Reads: rows to records, and one run's samples straight from the driver into numpy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, Row, select

from cyclerctl.store import models
from cyclerctl.store.records import Checkpoint, EventRecord, Result, RunInfo, StepRecord
from cyclerctl.store.upsert import select_run_sql

#: Row-dtype fields whose column is named differently (see models: T is T_K).
COLUMN_OF_FIELD = {"T": "T_K"}


def fetch_run_rows(
    engine: Engine, table: str, run_id: int, dtype: np.dtype[Any]
) -> NDArray[np.void]:
    """Every row of ``run_id`` in ``table`` (samples, impedance) ordered by seq, as ``dtype``.

    The driver's cursor straight into ``np.fromiter``: no ORM, no Row objects, no list of
    tuples in between (a million points read back in less time than a raw ``fetchall``
    into ``np.array``), and the primary key (run_id, seq) makes it one range scan. NULLs
    (unknown T) come back as NaN. (Reading two halves on two threads was measured slower:
    the threads queue for the interpreter on every row.)
    """
    names = [COLUMN_OF_FIELD.get(name, name) for name in dtype.names or ()]
    sql = select_run_sql(models.TABLES[table], engine.dialect, names)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, (run_id,))
            rows: NDArray[np.void] = np.fromiter(
                cast(Iterable[Any], cursor),  # a DB-API cursor iterates over its rows
                dtype=dtype,
                count=-1,
            )
            return rows
        finally:
            cursor.close()
    finally:
        connection.close()


def run_info(row: Row[Any]) -> RunInfo:
    m = row._mapping
    return RunInfo(
        id=m["id"],
        guid=m["guid"],
        protocol_name=m["protocol_name"],
        protocol_source=m["protocol_source"],
        protocol_sha256=m["protocol_sha256"],
        cell_name=m["cell_name"],
        channel=m["channel"],
        operator=m["operator"],
        status=m["status"],
        end_reason=m["end_reason"],
        is_completed=bool(m["is_completed"]),
        created_at=m["created_at"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        parameters=dict(m["parameters"] or {}),
        instrument=dict(m["instrument"] or {}),
        analysis=dict(m["analysis"] or {}),
        estimated_duration_s=m["estimated_duration_s"],
        daemon=m["daemon"],
        overrides={str(k): str(v) for k, v in (m["overrides"] or {}).items()},
        queued_at=m["queued_at"],
    )


RUN_INFO_COLUMNS = [
    models.runs.c[name]
    for name in (
        *("id", "guid", "protocol_name", "protocol_source", "protocol_sha256", "cell_name"),
        *("channel", "operator", "status", "end_reason", "is_completed"),
        *("created_at", "started_at", "ended_at", "parameters", "instrument", "analysis"),
        *("estimated_duration_s", "daemon", "overrides", "queued_at"),
    )
]


def get_run(connection: Connection, run_id: int) -> RunInfo | None:
    row = connection.execute(
        select(*RUN_INFO_COLUMNS).where(models.runs.c.id == run_id)
    ).one_or_none()
    return None if row is None else run_info(row)


def list_runs(
    connection: Connection, limit: int | None, *, imported_only: bool = False
) -> list[RunInfo]:
    runs = models.runs
    query = select(*RUN_INFO_COLUMNS).order_by(runs.c.created_at.desc(), runs.c.id.desc())
    if imported_only:
        query = query.where(runs.c.id.in_(select(models.imported_files.c.run_id)))
    if limit is not None:
        query = query.limit(limit)
    return [run_info(row) for row in connection.execute(query)]


def steps(connection: Connection, run_id: int) -> list[StepRecord]:
    table = models.steps
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.step)
    records = []
    for row in connection.execute(query):
        values = dict(row._mapping)
        del values["run_id"]
        values["loop_counters"] = tuple(values["loop_counters"])
        records.append(StepRecord(**values))
    return records


def events(connection: Connection, run_id: int) -> list[EventRecord]:
    table = models.events
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    records = []
    for row in connection.execute(query):
        values = dict(row._mapping)
        del values["run_id"]
        values["data"] = values["data"] or {}
        records.append(EventRecord(**values))
    return records


def results(connection: Connection, run_id: int) -> dict[str, Result]:
    table = models.results
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.name)
    return {
        row.name: Result(
            value=row.value,
            data=row.data,
            unit=row.unit,
            source=row.source or {},
            analysis_version=row.analysis_version,
            computed_at=row.computed_at,
        )
        for row in connection.execute(query)
    }


def checkpoint(connection: Connection, run_id: int) -> Checkpoint | None:
    table = models.checkpoints
    row = connection.execute(select(table).where(table.c.run_id == run_id)).one_or_none()
    if row is None:
        return None
    values = dict(row._mapping)
    del values["run_id"]
    values["loop_counters"] = tuple(values["loop_counters"])
    return Checkpoint(**values)


def channel_latest(connection: Connection) -> list[dict[str, Any]]:
    """One dict per channel, keyed like the sample dtype (``T``, not the column's ``T_K``)."""
    table = models.channel_latest
    columns = [column.label(field_of_column(column.name)) for column in table.columns]
    query = select(*columns).order_by(table.c.channel)
    return [dict(row._mapping) for row in connection.execute(query)]


def field_of_column(name: str) -> str:
    return next((f for f, c in COLUMN_OF_FIELD.items() if c == name), name)
