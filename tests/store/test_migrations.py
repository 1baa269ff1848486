"""The migrations build the schema the models describe, once, and upgrade old databases
without losing a row; on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from cyclerctl.store import Store, default_url, models
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
    "commands",
    "daemons",
    "imported_files",
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


def test_every_connection_has_the_pragmas(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_models_match_the_migration(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(connection).get_table_names())
    assert TABLES | {"alembic_version"} == tables


def test_reopening_a_file_at_head_runs_no_migration(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(store_url).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on a database already at head")

    monkeypatch.setattr(alembic_command, "upgrade", refuse)
    store = Store.open(store_url)
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


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    engine = database_module.make_engine(url, dedicated=True)
    config = database_module.alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (alembic_command.downgrade if down else alembic_command.upgrade)(config, revision)
    finally:
        engine.dispose()


def _run_0001(status: str, channel: str, source: str | None) -> dict[str, Any]:
    """A runs row as revision 0001 wrote it."""
    cell: dict[str, Any] = {"name": "NCM622-coin-01", "area_m2": 1.54e-4}
    if source is not None:
        cell["source"] = source
    at = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)
    return {
        "guid": f"guid-{channel}-{status}",
        "protocol_name": "ncm622-cycling",
        "protocol_source": "library:ncm622-cycling",
        "protocol_text": "name = 1",
        "protocol_sha256": "b" * 64,
        "cell_name": "NCM622-coin-01",
        "cell_text": "",
        "cell_json": cell,
        "parameters": {"cycles": 2},
        "plan_json": [],
        "analysis": {},
        "instrument": {"driver": "sim"},
        "channel": channel,
        "operator": "alice",
        "status": status,
        "end_reason": None,
        "is_completed": False,
        "created_at": at,
        "started_at": at if status == "running" else None,
        "ended_at": None,
        "estimated_duration_s": 60.0,
    }


def test_upgrade_from_0001_keeps_every_row(store_url: str) -> None:
    _migrate(store_url, "0001")
    engine = database_module.make_engine(store_url)
    try:
        with engine.begin() as connection:
            ids: list[int] = []
            for row in (
                _run_0001("running", "ch1", "library:ncm622"),
                _run_0001("queued", "ch2", None),
            ):
                result = connection.execute(models.runs.insert().values(**row))
                (run_id,) = result.inserted_primary_key or (None,)
                assert isinstance(run_id, int)
                ids.append(run_id)
            connection.execute(
                models.samples.insert(),
                [
                    {"run_id": ids[0], "seq": n, "t": n * 0.1, "V": 3.7, "I": 1e-4, "Q": 0.0,
                     "T_K": None, "step": 1, "cycle": 1}
                    for n in range(1, 101)
                ],
            )  # fmt: skip
            connection.execute(
                models.channel_latest.insert().values(
                    channel="ch1", run_id=ids[0], V=3.7, status="running",
                    updated_at=datetime(2025, 11, 20, 10, tzinfo=UTC),
                )
            )  # fmt: skip
        assert database_module.current_revision(engine) == "0001"
    finally:
        engine.dispose()

    store = Store.open(store_url)  # what a new cyclerctl does on start: upgrade to head
    try:
        assert database_module.current_revision(store.engine) == database_module.head_revision()
        running, queued = (store.get_run(i) for i in ids)
        assert running is not None and queued is not None
        assert (running.status, running.channel, running.parameters) == (
            "running",
            "ch1",
            {"cycles": 2},
        )
        assert (running.daemon, running.overrides, running.queued_at) == (None, {}, None)
        assert queued.queued_at == datetime(2025, 11, 20, 9, 30, tzinfo=UTC)  # = created_at
        with store.engine.connect() as connection:
            sources = connection.execute(
                select(models.runs.c.cell_source, models.runs.c.priority).order_by(models.runs.c.id)
            ).all()
        assert [tuple(r) for r in sources] == [("library:ncm622", 0), ("", 0)]
        assert store.last_seq(ids[0]) == 100 == len(store.samples(ids[0]))
        assert [row["V"] for row in store.channel_latest()] == [3.7]
        assert store.commands() == [] and store.daemons() == []
        # and the new tables work on the upgraded database
        claimed = store.claim_next(["ch2"], "rig-1")
        assert claimed is not None and claimed.id == ids[1]
        assert store.issue_command(ids[1], "pause", operator="bob") > 0
    finally:
        store.close()


def test_downgrade_to_0001_and_up_again(store_url: str) -> None:
    Store.open(store_url).close()
    _migrate(store_url, "0001", down=True)
    engine = database_module.make_engine(store_url)
    try:
        assert database_module.current_revision(engine) == "0001"
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert {"commands", "daemons"} & set(inspector.get_table_names()) == set()
            assert "daemon" not in {c["name"] for c in inspector.get_columns("runs")}
    finally:
        engine.dispose()
    store = Store.open(store_url)
    try:
        test_models_match_the_migration(store)
    finally:
        store.close()


def test_processes_starting_at_once_migrate_once(store_url: str) -> None:
    """Daemons and a CLI starting together on a new database: one builds the schema, the
    others wait for it (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock)."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        try:
            start.wait()
            Store.open(store_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60.0)
    assert errors == []
    store = Store.open(store_url)
    try:
        with store.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [database_module.head_revision()]
    finally:
        store.close()
