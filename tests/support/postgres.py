"""A throwaway PostgreSQL server for the test session, and one database per test.

``start_server()`` finds ``initdb``/``pg_ctl`` (``PATH``, then ``/usr/lib/postgresql/*/bin``),
installs the OS package if they are missing and we are root on Debian/Ubuntu (CI), runs
``initdb`` into a fresh temp dir and starts the server on 127.0.0.1 with a free port and
its socket in that dir. PostgreSQL refuses to run as root, so as root the server runs as
the ``postgres`` user (or ``nobody``) and the temp dir is handed to it. Durability is off
(``fsync``, ``synchronous_commit``, ``full_page_writes``): a test server only has to be fast.

Every pytest-xdist worker is its own process and starts its own server (about a second),
so workers share nothing. Each test gets a clean database from :meth:`fresh_database`: the
worker's one database with its ``public`` schema dropped and recreated (milliseconds, where
CREATE DATABASE takes a quarter of a second). A server whose test process died without
stopping it is reaped by the next ``start_server()``.

Environment:

- ``CYCLERCTL_TEST_POSTGRES_URL``: use this server instead of starting one, e.g.
  ``postgresql://postgres@db:5432/postgres`` (a role that may create databases).
- ``CYCLERCTL_TEST_POSTGRES``: ``off`` skips the PostgreSQL tests; ``require`` makes a
  server that cannot be started an error instead of a skip (set it in CI).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, make_url

ROLE = "cyclerctl"  # the superuser initdb creates; the test URLs connect as it
DIR_PREFIX = "cyclerctl-pg-"
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=32MB"
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found, installed or started; the message says why."""


def mode() -> str:
    """``auto`` (skip if unavailable), ``require`` (fail) or ``off`` (always skip)."""
    value = os.environ.get("CYCLERCTL_TEST_POSTGRES", "auto").strip().lower() or "auto"
    if value not in ("auto", "require", "off"):
        raise ValueError(f"CYCLERCTL_TEST_POSTGRES must be auto, require or off, not {value!r}")
    return value


# -- binaries ------------------------------------------------------------------------------


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # /usr/local/bin → the real bin/
    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)[::-1]
    ]
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def install_os_package() -> None:
    """``apt-get install postgresql`` (root only); one process at a time under xdist."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, pg_ctl) not found, and this is not root on a "
            "Debian-like system where they could be installed (apt-get install postgresql)"
        )
    lock_path = Path(tempfile.gettempdir()) / "cyclerctl-pg-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here, then finds them
        if find_bindir() is not None:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise PostgresUnavailable(f"{' '.join(command)} failed: {' | '.join(tail)}")


# -- running as an unprivileged user --------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    uid: int
    gid: int
    name: str


def _server_account() -> _Account | None:
    """Who the server runs as: None (ourselves) unless we are root, which initdb refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(entry.pw_uid, entry.pw_gid, name)
    raise PostgresUnavailable("running as root and there is no 'postgres' or 'nobody' user")


def _run(
    command: Sequence[str], account: _Account | None, *, cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    options: dict[str, Any] = {}
    if account is not None:
        options = {"user": account.uid, "group": account.gid, "extra_groups": []}
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "LANG": "C",
        "HOME": str(cwd),
    }
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_abandoned(bindir: Path) -> None:
    """Stop and delete servers left by test processes that died without stopping them."""
    for folder in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        data = folder / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                     _server_account(), cwd=folder, timeout=30)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


# -- the server -----------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A server tests may create databases on. ``url(name)`` is a SQLAlchemy URL string."""

    host: str
    port: int
    user: str
    password: str | None = None
    admin_database: str = "postgres"
    bindir: Path | None = None
    folder: Path | None = None  # None: an external server we did not start and never stop
    account: _Account | None = None
    started_in_s: float = 0.0
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _created: set[str] = field(default_factory=set)  # databases to drop from an external one

    def url(self, database: str) -> str:
        url = URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
        )
        return url.render_as_string(hide_password=False)

    def _admin(self, database: str | None = None) -> Any:
        import psycopg  # imported late: without psycopg the tests skip, they do not fail

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.admin_database,
            autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction
            connect_timeout=10,
        )

    def unique_name(self, prefix: str = "t") -> str:
        with self._lock:
            number = next(self._names)
        return f"{prefix}_{os.getpid()}_{number}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); return its URL."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(
                statement, sql.Identifier(template)
            )
        with self._admin() as connection:
            connection.execute(statement)
        return self.url(name)

    def fresh_database(self) -> str:
        """The URL of this process's own database, emptied: every connection to it closed,
        its ``public`` schema (tables, alembic_version and all) dropped and recreated."""
        from psycopg import sql

        name = f"cyclerctl_test_{os.getpid()}"
        with self._lock:
            if name not in self._created:
                self.create_database(name)
                self._created.add(name)
                return self.url(name)
        with self._admin(name) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(sql.SQL("CREATE SCHEMA public"))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected to it."""
        from psycopg import sql

        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with self._admin() as connection:
            connection.execute(statement)

    def pg_ctl(self, *action: str) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl <action>`` on this (local) server, with the options it was started
        with: ``pg_ctl("start")``, ``pg_ctl("-m", "fast", "stop")`` — a database server
        restarting under a test."""
        assert self.folder is not None and self.bindir is not None, "not a server we started"
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} {SERVER_OPTIONS}"
        data, log = self.folder / "data", self.folder / "server.log"
        return _run(
            [str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
             "-w", "-t", "60", *action],
            self.account, cwd=self.folder, timeout=90,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server and delete its files (does nothing for an external server)."""
        folder, self.folder = self.folder, None
        if folder is None or self.bindir is None:
            for name in sorted(self._created):  # an external server: leave it as we found it
                with contextlib.suppress(Exception):
                    self.drop_database(name)
            self._created.clear()
            return
        data = folder / "data"
        with contextlib.suppress(Exception):
            _run([str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                 self.account, cwd=folder, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def external_server(url: str) -> PostgresServer:
    parsed = make_url(url)
    return PostgresServer(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or ROLE,
        password=parsed.password,
        admin_database=parsed.database or "postgres",
    )


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def start_server() -> PostgresServer:
    """A running server: the external one named by the environment, or a new local one.

    Raises PostgresUnavailable with the reason when there is none to be had.
    """
    if external := os.environ.get("CYCLERCTL_TEST_POSTGRES_URL"):
        return external_server(external)
    began = time.monotonic()
    bindir = find_bindir()
    if bindir is None:
        install_os_package()
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("installed postgresql, but still no initdb/pg_ctl")
    reap_abandoned(bindir)
    account = _server_account()
    folder = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    (folder / "owner.pid").write_text(str(os.getpid()))
    if account is not None:
        os.chown(folder, account.uid, account.gid)
    data, log = folder / "data", folder / "server.log"
    server = PostgresServer(
        host="127.0.0.1", port=0, user=ROLE, bindir=bindir, folder=folder, account=account
    )
    try:
        done = _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust",
             "--no-sync", "--no-locale", "--encoding=UTF8"],
            account, cwd=folder,
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(done.stderr or done.stdout).strip()}")
        for _attempt in range(START_ATTEMPTS):
            server.port = _free_port()
            done = server.pg_ctl("start")
            if done.returncode == 0:
                break
            if "could not bind" not in _log_tail(log, 30):
                break
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"pg_ctl start failed ({done.stderr.strip()}); server log: {_log_tail(log)}"
            )
    except BaseException:
        server.stop()
        raise
    server.started_in_s = time.monotonic() - began
    atexit.register(server.stop)  # if the session ends without the fixture's teardown
    return server
