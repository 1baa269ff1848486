"""The first migration builds the schema the models describe, on a new file, once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from cyclerctl.store import Store, default_url
from cyclerctl.store import database as database_module
from cyclerctl.store.models import Base

TABLES = {
    "runs",
    "steps",
    "samples",
    "impedance",
    "events",
    "results",
    "checkpoints",
    "channel_latest",
}


def _schema(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        return {name: sql for name, sql in rows}


def test_new_file_gets_every_table_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "runs.db"  # the folder is created too
    Store.open(f"sqlite:///{path}").close()
    schema = _schema(path)
    assert TABLES | {"alembic_version"} <= set(schema)
    assert "WITHOUT ROWID" in schema["samples"]
    assert "WITHOUT ROWID" in schema["impedance"]
    assert "WITHOUT ROWID" not in schema["runs"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples'"
        ).fetchall()
        assert [name for (name,) in indexes if not name.startswith("sqlite_autoindex")] == []


def test_every_connection_has_the_pragmas(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_models_match_the_migration(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_reopening_a_file_at_head_runs_no_migration(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(db_url).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on a database already at head")

    monkeypatch.setattr(alembic_command, "upgrade", refuse)
    store = Store.open(db_url)
    try:
        store.upgrade()
        head = database_module.head_revision()
        assert database_module.current_revision(store.engine) == head
        with store.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [head]
    finally:
        store.close()


def test_relative_url_is_relative_to_the_working_directory(in_tmp: Path) -> None:
    Store.open("sqlite:///data/relative.db").close()
    assert (in_tmp / "data" / "relative.db").is_file()


def test_default_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_url() == "sqlite:///cyclerctl.db"
    monkeypatch.setenv("CYCLERCTL_DB", "postgresql://lab@db/cycler")
    assert default_url() == "postgresql://lab@db/cycler"
