"""Dialect-neutral idempotent inserts: ``INSERT … ON CONFLICT`` on SQLite ≥ 3.24 and
PostgreSQL alike, as Core statements or as driver SQL for ``executemany``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert(table: Table, dialect: Dialect) -> Any:
    """The dialect's own insert construct (with ``on_conflict_do_*``) for ``table``."""
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {dialect.name}")


def upsert(
    table: Table,
    dialect: Dialect,
    values: dict[str, Any],
    key: Sequence[str],
    where: Any = None,
) -> Any:
    """Insert ``values``, or update every other column of the row that has the same ``key``
    (only if ``where`` holds for the existing row, when given)."""
    statement = insert(table, dialect).values(**values)
    update = {name: statement.excluded[name] for name in values if name not in key}
    return statement.on_conflict_do_update(index_elements=list(key), set_=update, where=where)


def _placeholders(dialect: Dialect, count: int) -> list[str]:
    style = dialect.paramstyle
    if style == "qmark":
        return ["?"] * count
    if style in ("format", "pyformat"):
        return ["%s"] * count
    if style == "numeric":
        return [f":{i + 1}" for i in range(count)]
    if style == "numeric_dollar":
        return [f"${i + 1}" for i in range(count)]
    raise NotImplementedError(f"paramstyle {style!r} has no positional form")


def insert_ignore_sql(table: Table, dialect: Dialect, columns: Sequence[str]) -> str:
    """Driver SQL that inserts one row of positional ``columns`` and skips a row whose
    primary key exists already: a replayed batch duplicates nothing and raises nothing."""
    quote = dialect.identifier_preparer.quote
    key = ", ".join(quote(c.name) for c in table.primary_key.columns)
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join(_placeholders(dialect, len(columns)))
    return (
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({values}) "
        f"ON CONFLICT ({key}) DO NOTHING"
    )


def insert_ignore_arrays_sql(table: Table, dialect: Dialect, columns: Sequence[str]) -> str:
    """PostgreSQL: like :func:`insert_ignore_sql`, but for a whole block in one statement
    and one round trip: one array parameter per column, ``unnest``-ed into rows (several
    times faster than ``executemany``). Duplicate keys, within the block or with stored
    rows, are skipped."""
    if dialect.name != "postgresql":
        raise NotImplementedError("array parameters are PostgreSQL's")
    quote = dialect.identifier_preparer.quote
    key = ", ".join(quote(c.name) for c in table.primary_key.columns)
    names = ", ".join(quote(c) for c in columns)
    arrays = ", ".join(f"%s::{table.c[c].type.compile(dialect)}[]" for c in columns)
    return (
        f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({key}) DO NOTHING"
    )


def select_run_sql(table: Table, dialect: Dialect, columns: Sequence[str]) -> str:
    """Driver SQL reading one run's rows in key order: a single range scan of the table."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    (placeholder,) = _placeholders(dialect, 1)
    return (
        f"SELECT {names} FROM {quote(table.name)} "
        f"WHERE {quote('run_id')} = {placeholder} ORDER BY {quote('seq')}"
    )
