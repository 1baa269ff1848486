"""Database passwords: never from the command line, only from the environment or an owner-only
file, and never printed — checked against a real PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import make_url

from cyclerctl.cli import main
from cyclerctl.config import database_url, load_config
from cyclerctl.credentials import PASSWORD_VARIABLE, CredentialError, shown
from cyclerctl.store import Store
from tests.support.postgres import PostgresServer

SECRET = "s3cret-Ω-pass"


def _config(folder: Path, body: str, mode: int) -> Path:
    path = folder / "lab.toml"
    path.write_text(body, encoding="utf-8")
    path.chmod(mode)
    return path


def _with_password(url: str, password: str) -> str:
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _password_seen_by_the_server_driver(url: str) -> str | None:
    with Store.open(url) as store, store.engine.connect() as connection:
        info = connection.connection.driver_connection.info  # type: ignore[union-attr]
        password: str | None = info.password
        return password


def test_a_password_on_the_command_line_is_refused_and_not_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql+psycopg://lab:{SECRET}@127.0.0.1:1/cyclerctl"
    assert main(["runs", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "--db:" in err and "command line" in err and "lab:***@" in err
    assert SECRET not in err


def test_a_config_with_a_password_must_be_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f'operator = "ana"\n\n[database]\nurl = "postgresql+psycopg://lab:{SECRET}@h/db"\n'
    path = _config(tmp_path, body, 0o644)
    assert main(["--config", str(path), "runs"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: database.url: carries a password" in err
    assert "mode 0644" in err and "chmod 600" in err and SECRET not in err
    path.chmod(0o600)
    assert load_config(str(path)).database_url == f"postgresql+psycopg://lab:{SECRET}@h/db"


def test_a_password_file_must_be_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "db.password"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    secret.chmod(0o640)
    body = '[database]\nurl = "postgresql+psycopg://lab@h/db"\npassword_file = "db.password"\n'
    path = _config(tmp_path, body, 0o644)  # no password in it: it may be world-readable
    assert main(["--config", str(path), "runs"]) == 2
    err = capsys.readouterr().err
    assert f"{secret}: a password file must be readable by its owner only, it has mode 0640" in err
    assert SECRET not in err
    secret.chmod(0o600)
    assert make_url(database_url(None, load_config(str(path)))).password == SECRET


def test_a_misspelt_database_field_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, '[database]\nurl = "sqlite:///x.db"\npasword_file = "p"\n', 0o644)
    assert main(["--config", str(path), "runs"]) == 2
    assert f"{path}:3: database.pasword_file: unknown field" in capsys.readouterr().err


def test_the_password_from_a_file_reaches_the_server_and_no_output(
    postgres: PostgresServer,
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = tmp_path / "db.password"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o600)
    assert make_url(postgres_url).password is None  # the test server trusts 127.0.0.1
    body = f'[database]\nurl = "{postgres_url}"\npassword_file = "{secret}"\n'
    path = _config(tmp_path, body, 0o644)
    url = database_url(None, load_config(str(path)))
    assert _password_seen_by_the_server_driver(url) == SECRET
    for argv in (["db", "upgrade"], ["runs"], ["status"], ["show", "999"]):
        main(["--config", str(path), *argv])
        out, err = capsys.readouterr()
        assert SECRET not in out + err, argv


def test_the_environment_gives_the_password(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CYCLERCTL_DB", postgres_url)
    monkeypatch.setenv(PASSWORD_VARIABLE, SECRET)
    url = database_url(None, load_config(None))
    assert _password_seen_by_the_server_driver(url) == SECRET
    monkeypatch.setenv("CYCLERCTL_DB", _with_password(postgres_url, "other"))
    assert make_url(database_url(None, load_config(None))).password == "other"  # URL first


def test_shown_hides_the_password_and_leaves_the_rest() -> None:
    assert shown(f"postgresql+psycopg://lab:{SECRET}@db:5432/runs") == (
        "postgresql+psycopg://lab:***@db:5432/runs"
    )
    assert shown("sqlite:///runs.db") == "sqlite:///runs.db"
    with pytest.raises(CredentialError):
        from cyclerctl.credentials import refuse_command_line_password

        refuse_command_line_password("postgresql://a:b@h/d")
    assert os.environ.get(PASSWORD_VARIABLE) is None  # conftest keeps the developer's out


def test_the_tui_refuses_a_command_line_password_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql+psycopg://lab:{SECRET}@127.0.0.1:1/cyclerctl"
    assert main(["tui", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "command line" in err and SECRET not in err and "Traceback" not in err


def test_a_store_shows_its_url_without_the_password(postgres_url: str) -> None:
    with Store.open(_with_password(postgres_url, SECRET)) as store:
        assert SECRET not in store.url and ":***@" in store.url
