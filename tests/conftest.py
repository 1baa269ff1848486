"""Shared fixtures: every test works in its own temp dir; random sources are seeded."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.postgres import PostgresServer, PostgresUnavailable, mode, start_server

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # a developer's own database or config must never leak into a test
    for name in ("CYCLERCTL_DB", "CYCLERCTL_CONFIG", "CYCLERCTL_OPERATOR"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--instrument",
        metavar="ADDRESS",
        default=None,
        help="a real instrument for the tests marked `hardware` (USB0, an IP, a VISA resource)",
    )
    parser.addoption(
        "--instrument-driver",
        metavar="DRIVER",
        default=None,
        help="which driver the --instrument is for (biologic, neware, scpi, chamber)",
    )


def pytest_report_header() -> str:
    shared = "present" if SHARED.is_dir() else "absent"
    return f"cyclerctl tests; repo {REPO}; shared data {shared}; pid {os.getpid()}"


# -- PostgreSQL: a real server (tests/support/postgres.py) ------------------------------------


def _postgres_unavailable(reason: str) -> NoReturn:
    if mode() == "require":
        pytest.fail(f"PostgreSQL required (CYCLERCTL_TEST_POSTGRES=require): {reason}")
    pytest.skip(f"PostgreSQL: {reason}")


def _postgres_server() -> PostgresServer:
    if mode() == "off":
        pytest.skip("PostgreSQL tests are off (CYCLERCTL_TEST_POSTGRES=off)")
    if importlib.util.find_spec("psycopg") is None:
        _postgres_unavailable("the psycopg driver is not installed (pip install -e '.[test]')")
    try:
        return start_server()
    except PostgresUnavailable as exc:
        _postgres_unavailable(str(exc))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (this xdist worker's own), stopped at the end."""
    server = _postgres_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """An empty database on the session's server (this worker's, its schema reset)."""
    return postgres.fresh_database()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A server of the module's own, which its tests may stop and start (``pg_ctl``)."""
    server = _postgres_server()
    if server.folder is None or server.bindir is None:
        pytest.skip("an external PostgreSQL server cannot be restarted by the tests")
    try:
        yield server
    finally:
        server.stop()
