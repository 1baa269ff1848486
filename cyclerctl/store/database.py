"""Engines and migrations: SQLite pragmas on every connection, alembic upgrade to head."""

from __future__ import annotations

import os
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

from cyclerctl.resources import migrations_dir
from cyclerctl.store.serialize import dumps

BUSY_TIMEOUT_S = 10.0
#: Execution option naming how a SQLite transaction begins ("DEFERRED" or "IMMEDIATE").
SQLITE_BEGIN = "sqlite_begin"


def default_url() -> str:
    """``$CYCLERCTL_DB`` if set, else ``cyclerctl.db`` in the current directory."""
    return os.environ.get("CYCLERCTL_DB") or "sqlite:///cyclerctl.db"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_postgresql(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def advisory_key(name: str) -> int:
    """A stable signed 32-bit key for pg_advisory_*lock(NAMESPACE, key)."""
    return zlib.crc32(name.encode()) - 2**31


#: First key of every advisory lock cyclerctl takes, so they cannot collide with others'.
ADVISORY_NAMESPACE = advisory_key("cyclerctl")


def _sqlite_file(url: URL) -> URL:
    """The URL with its database file made absolute, its folder created.

    Absolute so that every connection (the writer's too) opens the same file even if the
    process changes directory later.
    """
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return url.set(database=str(path))


def _enter_wal(cursor: Any) -> None:
    """Switch a new database to WAL. Several processes opening one new file at once can
    get "database is locked" here at once, without SQLite's busy handler waiting (the
    switch needs the file to itself): retry for up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides where transactions begin (see
        # _on_begin): the module's legacy mode would leave SELECTs and DDL outside them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _enter_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits (busy_timeout) instead
        # of failing when another connection committed between its first read and write.
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | URL, *, dedicated: bool = False) -> Engine:
    """An engine for ``url``; ``dedicated``: no pool, for one long-lived connection."""
    parsed = make_url(url)
    options: dict[str, Any] = {"json_serializer": dumps}
    if is_sqlite(parsed):
        parsed = _sqlite_file(parsed)
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    elif is_postgresql(parsed):
        if parsed.drivername == "postgresql":
            # the driver cyclerctl depends on (psycopg 3), not SQLAlchemy's default psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
        # a daemon runs for weeks: a connection the server dropped is replaced, not used
        options["pool_pre_ping"] = True
    if dedicated:
        options["poolclass"] = NullPool
    engine = create_engine(parsed, **options)
    if is_sqlite(parsed):
        _configure_sqlite(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that is going to write, committed on exit (rolled back on error).

    On SQLite it begins IMMEDIATE: it holds the database's one write lock from its first
    read, so a read-check-write sequence in it is atomic against every other writer
    (others wait up to the busy timeout). PostgreSQL statements lock rows themselves.
    """
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            yield connection


def alembic_config() -> Config:
    """The alembic configuration, built in code (the repository has no alembic.ini)."""
    config = Config()
    # ConfigParser interpolation: a literal % in the path must be doubled
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Apply every migration up to head; at head it only reads the version and returns."""
    if current_revision(engine) == head_revision():
        return
    config = alembic_config()
    # Two processes starting on a new database must not both create the tables: SQLite's
    # IMMEDIATE and PostgreSQL's advisory lock make the second wait, and alembic, reading
    # the version inside the same transaction, then finds nothing left to do.
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": ADVISORY_NAMESPACE, "key": advisory_key("migrations")},
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
