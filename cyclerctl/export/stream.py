"""One run's stored rows in bounded memory: keyset pages over the (run_id, seq) key.

Each page is one index range scan (``seq > last ORDER BY seq LIMIT n``) on a raw DBAPI
cursor, so a 10-million-point run never sits in memory at once, and PostgreSQL needs no
server-side cursor. Only the public ``Store.engine`` is used; column names are the schema's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine

from cyclerctl.store import IMPEDANCE_ROW_DTYPE, SAMPLE_ROW_DTYPE, Store

CHUNK_ROWS = 100_000
#: Row-dtype field → column (T is stored as T_K: SQLite column names ignore case).
_COLUMN = {"T": "T_K"}


def _placeholder(engine: Engine) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def _page_sql(engine: Engine, table: str, dtype: np.dtype[Any]) -> str:
    quote = engine.dialect.identifier_preparer.quote
    names = ", ".join(quote(_COLUMN.get(n, n)) for n in dtype.names or ())
    p = _placeholder(engine)
    return (
        f"SELECT {names} FROM {quote(table)} WHERE {quote('run_id')} = {p} "
        f"AND {quote('seq')} > {p} ORDER BY {quote('seq')} LIMIT {p}"
    )


def _iter_rows(
    store: Store, table: str, run_id: int, dtype: np.dtype[Any], chunk_rows: int
) -> Iterator[NDArray[np.void]]:
    sql = _page_sql(store.engine, table, dtype)
    connection = store.engine.raw_connection()
    try:
        last = -(2**62)
        while True:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, (run_id, last, chunk_rows))
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if not rows:
                return
            block = np.array(rows, dtype=dtype)  # NULL (unknown T) comes back as NaN
            del rows
            yield block
            last = int(block["seq"][-1])
            if block.size < chunk_rows:
                return
    finally:
        connection.close()


def iter_samples(
    store: Store, run_id: int, chunk_rows: int = CHUNK_ROWS
) -> Iterator[NDArray[np.void]]:
    """The run's samples as SAMPLE_ROW_DTYPE blocks of at most ``chunk_rows``, by seq."""
    return _iter_rows(store, "samples", run_id, SAMPLE_ROW_DTYPE, chunk_rows)


def iter_impedance(
    store: Store, run_id: int, chunk_rows: int = CHUNK_ROWS
) -> Iterator[NDArray[np.void]]:
    """The run's impedance points as IMPEDANCE_ROW_DTYPE blocks, by seq."""
    return _iter_rows(store, "impedance", run_id, IMPEDANCE_ROW_DTYPE, chunk_rows)
