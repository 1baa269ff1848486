"""Sample ingest: the store's batched writer against raw ``sqlite3`` and against QCoDeS.

Every contender writes the same synthetic points, produced the same way (1 000-row
SAMPLE_ROW_DTYPE blocks, as a fast channel hands them over), into a fresh SQLite file:

- the store: ``Store.open`` + ``create_run`` (not timed), then ``open_writer(max_rows=10 000)``,
  ``append_samples`` per block, ``close()`` (timed: until every row is committed);
- baseline: the same schema (made by ``Store.open``), a plain ``sqlite3`` connection in WAL
  with ``synchronous = NORMAL``, ``executemany`` of plain ``INSERT`` in 10 000-row
  transactions, the blocks turned into tuples in the timed loop as the store must;
- QCoDeS (a bench-only dependency, skipped with a message when absent): a ``Measurement``
  with the same columns, ``DataSaver.add_result`` per point (QCoDeS stores 7 rows for each:
  seq + one column), fewer points since it is slow; compared as points/s.

``python -m bench.ingest [--quick]`` prints the table; ``python -m bench`` includes it.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.store import SAMPLE_ROW_DTYPE, Store

FULL_POINTS = 2_000_000
QUICK_POINTS = 200_000
QCODES_FULL_POINTS = 200_000
QCODES_QUICK_POINTS = 10_000
BLOCK = 1_000
TRANSACTION = 10_000
RAW_TARGET = 0.8  # store rows/s ≥ 0.8 × raw sqlite3
QCODES_TARGET = 10.0  # store rows/s ≥ 10 × QCoDeS


def blocks(points: int) -> Iterator[NDArray[np.void]]:
    """SAMPLE_ROW_DTYPE blocks of BLOCK points: seq 1…points, 1 s apart, a slow discharge."""
    template = np.zeros(BLOCK, dtype=SAMPLE_ROW_DTYPE)
    k = np.arange(BLOCK, dtype=np.float64)
    template["V"] = 3.7 - 1e-6 * k
    template["I"] = -1e-3
    template["T"] = 298.15
    template["step"] = 1
    template["cycle"] = 1
    for first in range(0, points, BLOCK):
        n = min(BLOCK, points - first)
        block = template[:n].copy()
        block["seq"] = np.arange(first + 1, first + n + 1)
        block["t"] = block["seq"] - 1.0
        block["Q"] = block["I"] * block["t"]
        yield block


def plan() -> Any:
    from bench.export import _plan

    return _plan()


def _new_run(db: Path) -> int:
    store = Store.open(f"sqlite:///{db}")
    try:
        run = store.create_run(
            plan(),
            operator="bench",
            instrument={"model": "synthetic", "serial": "0", "firmware": ""},
            channel="bench",
        )
    finally:
        store.close()
    return run.id


def store_ingest(db: Path, points: int) -> float:
    """Seconds for the store's writer to commit ``points`` samples into a fresh file."""
    run_id = _new_run(db)
    store = Store.open(f"sqlite:///{db}")
    try:
        start = time.perf_counter()
        writer = store.open_writer(run_id, channel="bench", max_rows=TRANSACTION)
        for block in blocks(points):
            writer.append_samples(block)
        writer.close()
        elapsed = time.perf_counter() - start
        stored = store.last_seq(run_id)
    finally:
        store.close()
    assert stored == points, (stored, points)
    return elapsed


def raw_ingest(db: Path, points: int) -> float:
    """Seconds for plain sqlite3 executemany into the same schema in a fresh file."""
    run_id = _new_run(db)
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        sql = (
            'INSERT INTO samples (run_id, seq, t, V, I, Q, "T_K", step, cycle) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        start = time.perf_counter()
        pending: list[tuple[Any, ...]] = []
        for block in blocks(points):
            pending.extend((run_id, *row) for row in block.tolist())
            if len(pending) >= TRANSACTION:
                connection.execute("BEGIN")
                connection.executemany(sql, pending)
                connection.execute("COMMIT")
                pending = []
        if pending:
            connection.execute("BEGIN")
            connection.executemany(sql, pending)
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - start
        (stored,) = connection.execute("SELECT count(*) FROM samples").fetchone()
    finally:
        connection.close()
    assert stored == points, (stored, points)
    return elapsed


def qcodes_ingest(folder: Path, points: int) -> float | str:
    """Seconds for a QCoDeS DataSaver to write ``points``, or why it could not run."""
    try:
        import qcodes  # noqa: F401
        from qcodes.dataset import (
            Measurement,
            initialise_or_create_database_at,
            load_or_create_experiment,
        )
        from qcodes.parameters import Parameter
    except ImportError as exc:
        return f"skipped: QCoDeS not installed ({exc.name}); `pip install qcodes` to compare"
    initialise_or_create_database_at(str(folder / "qcodes.db"))
    experiment = load_or_create_experiment("bench", sample_name="synthetic")
    seq = Parameter("seq", set_cmd=None, get_cmd=None)
    names = [n for n in SAMPLE_ROW_DTYPE.names or () if n != "seq"]
    # SQLite column names ignore case: "T" would collide with "t" (the store names it T_K)
    parameters = {n: Parameter("T_K" if n == "T" else n, set_cmd=None, get_cmd=None) for n in names}
    measurement = Measurement(exp=experiment)
    measurement.register_parameter(seq, paramtype="numeric")
    for parameter in parameters.values():
        measurement.register_parameter(parameter, setpoints=(seq,), paramtype="numeric")
    ordered = [parameters[n] for n in names]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), measurement.run() as saver:
        for block in blocks(points):
            # one add_result per point, its usual use; QCoDeS stores a row per dependent
            # parameter tree (seq + one column), so 7 rows per point
            for row in block.tolist():
                saver.add_result((seq, row[0]), *zip(ordered, row[1:], strict=True))
    elapsed = time.perf_counter() - start
    connection = sqlite3.connect(folder / "qcodes.db")
    try:
        (table,) = connection.execute(
            "SELECT result_table_name FROM runs WHERE run_id = ?", (saver.dataset.run_id,)
        ).fetchone()
        (stored,) = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    finally:
        connection.close()
    assert stored == points * len(names), (stored, points)
    return elapsed


def run(points: int, qcodes_points: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw_s = raw_ingest(folder / "raw.db", points)
        store_s = store_ingest(folder / "store.db", points)
        qcodes = qcodes_ingest(folder, qcodes_points)
    store_rate, raw_rate = points / store_s, points / raw_s
    ratio = store_rate / raw_rate
    rows = [
        (
            f"ingest {points:,} samples, store writer (10k-row commits): rows/s",
            f"{store_rate:,.0f}",
        ),
        (
            "  baseline: raw sqlite3 executemany, WAL, NORMAL, 10k rows/txn: rows/s",
            f"{raw_rate:,.0f}",
        ),
        (
            f"  ratio store / raw (target ≥ {RAW_TARGET:g})",
            f"{ratio:.2f} {'ok' if ratio >= RAW_TARGET else 'MISSED'}",
        ),
    ]
    if isinstance(qcodes, str):
        rows.append(("  QCoDeS DataSaver: points/s", qcodes))
        rows.append((f"  ratio store / QCoDeS (target ≥ {QCODES_TARGET:g})", "-"))
    else:
        q_rate = qcodes_points / qcodes
        q_ratio = store_rate / q_rate
        rows.append(
            (
                f"  QCoDeS DataSaver, {qcodes_points:,} points, add_result per point: points/s",
                f"{q_rate:,.0f}",
            )
        )
        rows.append(
            (
                f"  ratio store / QCoDeS (target ≥ {QCODES_TARGET:g})",
                f"{q_ratio:.1f} {'ok' if q_ratio >= QCODES_TARGET else 'MISSED'}",
            )
        )
    return rows


def table(quick: bool) -> list[tuple[str, str]]:
    """The rows ``python -m bench`` prints: quick or full sizes."""
    if quick:
        return run(QUICK_POINTS, QCODES_QUICK_POINTS)
    return run(FULL_POINTS, QCODES_FULL_POINTS)


def main(argv: list[str] | None = None) -> None:
    from bench.machine import standalone

    standalone("python -m bench.ingest", f"{QUICK_POINTS:,} points", table, argv)


if __name__ == "__main__":
    main()
