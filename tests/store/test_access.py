"""A read-only viewer role on a real PostgreSQL server: it reads everything, changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from cyclerctl.cli import main
from cyclerctl.plan import Plan
from cyclerctl.store import Store
from cyclerctl.store.access import refused_write
from tests.support.postgres import PostgresServer

from .conftest import INSTRUMENT, sample_block


@pytest.fixture
def viewer(postgres: PostgresServer) -> Iterator[str]:
    """A role name of this test's own, dropped at the end (roles outlive databases)."""
    role = postgres.unique_name("viewer")
    yield role
    with contextlib.suppress(Exception), postgres._admin(postgres.admin_database) as admin:
        for database in [r[0] for r in admin.execute("SELECT datname FROM pg_database")]:
            with contextlib.suppress(Exception), postgres._admin(database) as connection:
                connection.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def test_a_viewer_reads_every_run_and_can_change_nothing(
    postgres_url: str, viewer: str, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(postgres_url) as store:
        run = store.create_run(plan, operator="ana", instrument=INSTRUMENT, channel="sim:1")
        with store.open_writer(run.id, channel="sim:1") as writer:
            writer.append_samples(sample_block(1, 50))
    assert main(["db", "viewer", viewer, "--login", "--db", postgres_url]) == 0
    assert main(["db", "viewer", viewer, "--login", "--db", postgres_url]) == 0  # idempotent
    capsys.readouterr()
    as_viewer = _as(postgres_url, viewer)

    assert main(["show", str(run.id), "--db", as_viewer, "--json"]) == 0
    assert '"operator": "ana"' in capsys.readouterr().out
    assert main(["status", "--db", as_viewer]) == 0
    with Store.open(as_viewer) as store:
        assert np.array_equal(store.samples(run.id)["seq"], np.arange(1, 51))

    for command in ("pause", "stop"):
        code = main([command, str(run.id), "--operator", "mallory", "--db", as_viewer])
        assert code == 2
        assert "may only read" in capsys.readouterr().err
    with Store.open(as_viewer) as store, pytest.raises(DBAPIError) as refused:
        store.set_status(run.id, "stopped", end_reason="operator")
    assert refused_write(refused.value)
    with Store.open(postgres_url) as store:  # nothing changed
        assert store.commands(run.id) == []
        left = store.get_run(run.id)
        assert left is not None and left.status == "running"


def test_tables_a_later_migration_adds_are_readable_too(postgres_url: str, viewer: str) -> None:
    Store.open(postgres_url).close()
    assert main(["db", "viewer", viewer, "--login", "--db", postgres_url]) == 0
    with Store.open(postgres_url) as store, store.engine.begin() as connection:
        connection.execute(text("CREATE TABLE later_table (x integer)"))
        connection.execute(text("INSERT INTO later_table VALUES (1)"))
    with Store.open(_as(postgres_url, viewer)) as store, store.engine.connect() as connection:
        assert connection.execute(text("SELECT x FROM later_table")).scalar_one() == 1
        with pytest.raises(DBAPIError) as refused:
            connection.execute(text("CREATE TABLE mine (x integer)"))
        assert refused_write(refused.value)


def test_sqlite_has_no_roles_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert main(["db", "viewer", "lab_viewer", "--db", url]) == 2
    assert "tui --read-only" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["Lab-Viewer", "1viewer", 'x"; DROP TABLE runs; --', ""])
def test_a_role_name_postgresql_would_mangle_is_refused(
    postgres_url: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "viewer", name, "--db", postgres_url]) == 2
    assert "db viewer" in capsys.readouterr().err
