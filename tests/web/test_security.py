"""The web view is read-only and, when it listens beyond this PC, closed to strangers:
every route refuses a request without a login when [web.auth] is set; no request changes
the database (the SQLite file's bytes are the same after a crawl of every page and
endpoint); --listen on a network address is refused without auth."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from cyclerctl.config import Config, ConfigError, WebSettings, load_config
from cyclerctl.store import Store
from cyclerctl.web import ListenError, check_exposure, parse_listen, serve
from cyclerctl.web.auth import WebAuth, hash_password, verify_password
from cyclerctl.web.server import open_app

TOKEN = "s3cret-token-for-the-lab-0123"
LOCAL = "http://127.0.0.1:8765"  # the Host a browser on this PC sends


def crawl_urls(client: TestClient, url: str) -> list[str]:
    """Every page and endpoint, for every run: what a crawler of the site would request."""
    with Store.open(url) as store:
        runs = [r.id for r in store.list_runs()]
    urls = [
        "/",
        "/?state=running&q=sim",
        "/api/overview",
        "/history",
        "/history?protocol=ncm&cell=coin&operator=ana&end_reason=safety&from=2020-01-01"
        "&to=2100-01-01&page=2",
        "/static/app.js",
        "/static/app.css",
        "/static/plotly.min.js",
    ]
    for run_id in runs:
        urls += [
            f"/runs/{run_id}",
            f"/api/runs/{run_id}",
            f"/api/runs/{run_id}/plot?width=300",
            f"/api/runs/{run_id}/plot?t0=10&t1=5000&width=100",
            f"/api/runs/{run_id}/impedance",
            f"/api/runs/{run_id}/dqdv",
            f"/api/runs/{run_id}/results",
            f"/runs/{run_id}/report.zip",
        ]
        urls += [
            f"/runs/{run_id}/export/{f}"
            for f in ("csv", "parquet", "mpt", "cycles-csv", "cycles-parquet")
        ]
    page = client.get(f"/runs/{runs[0]}").text  # and every link the pages themselves show
    urls += sorted(set(re.findall(r'href="(/[^"]*)"', page)))
    return urls


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_request_changes_the_database(web_lab: Path, web_lab_url: str) -> None:
    database = web_lab / "runs.db"
    with Store.open(web_lab_url) as store, store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the main file
    before = file_digest(database)
    app = open_app(Config(), web_lab_url)
    try:
        with TestClient(app, base_url=LOCAL) as client:
            urls = crawl_urls(client, web_lab_url)
            statuses = {u: client.get(u).status_code for u in urls}
            with client.stream("GET", "/events/overview") as events:  # the live feed's first
                first = next(events.iter_lines())
            assert first.startswith("data: {")
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                for u in ("/", "/api/overview", "/runs/1", "/runs/1/export/csv"):
                    assert client.request(method, u).status_code == 405
    finally:
        app.state.store.close()
    assert all(s in (200, 404) for s in statuses.values()), statuses
    assert sum(s == 200 for s in statuses.values()) > 40
    # DNS rebinding: a foreign page's name pointed at 127.0.0.1 reaches the server, but
    # names a foreign Host; without a login only this PC's names are answered
    app = open_app(Config(), web_lab_url)
    try:
        with TestClient(app, base_url="http://attacker.example:8765") as foreign:
            assert foreign.get("/api/overview").status_code == 403
        for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
            with TestClient(app, base_url=f"http://{host}") as local:
                assert local.get("/api/overview").status_code == 200, host
    finally:
        app.state.store.close()
    wal = database.with_name("runs.db-wal")
    assert file_digest(database) == before
    assert not wal.exists() or wal.stat().st_size == 0


@pytest.fixture
def locked_client(web_lab_url: str) -> Iterator[TestClient]:
    users = {"ana": hash_password("correct horse", iterations=1000)}
    settings = WebSettings(listen="0.0.0.0:8765", token=TOKEN, users=users)
    app = open_app(Config(web=settings), web_lab_url)
    client = TestClient(app, follow_redirects=False, base_url="http://lab-pc.example:8765")
    yield client
    client.close()
    app.state.store.close()


def test_every_route_refuses_a_request_without_login(
    locked_client: TestClient, web_lab_url: str
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    urls = crawl_urls(TestClient(locked_client.app, headers=bearer), web_lab_url)
    urls += ["/events/overview", "/no/such/page"]
    for url in urls:
        answer = locked_client.get(url)
        assert answer.status_code == 401, url
        assert "data" not in answer.text.lower() or "log in" in answer.text
        assert answer.headers["www-authenticate"].startswith("Basic")
    wrong = [
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": "Basic " + base64.b64encode(b"ana:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"eve:correct horse").decode()},
        {"Authorization": "Basic !!!"},
        {"Cookie": "cyclerctl_session=forged"},
    ]
    for headers in wrong:
        assert locked_client.get("/api/overview", headers=headers).status_code == 401
    assert locked_client.get("/api/overview?token=wrong").status_code == 401


def test_a_login_opens_the_pages(locked_client: TestClient) -> None:
    assert locked_client.get(
        "/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}
    ).is_success
    basic = "Basic " + base64.b64encode(b"ana:correct horse").decode()
    assert locked_client.get("/history", headers={"Authorization": basic}).is_success
    # a browser opens the address with ?token=…: a cookie, and the token leaves the URL
    first = locked_client.get(f"/history?token={TOKEN}&page=1")
    assert first.status_code == 303 and first.headers["location"] == "/history?page=1"
    cookie = first.cookies["cyclerctl_session"]
    assert TOKEN not in cookie and "httponly" in first.headers["set-cookie"].lower()
    locked_client.cookies.set("cyclerctl_session", cookie)
    assert locked_client.get("/").is_success  # any Host: behind a login it may be exposed


def test_password_hashes() -> None:
    hashed = hash_password("pw one")
    assert hashed.startswith("pbkdf2_sha256$600000$") and "pw one" not in hashed
    assert verify_password("pw one", hashed)
    assert not verify_password("pw two", hashed)
    assert not verify_password("pw one", "pbkdf2_sha256$broken")


# -- where it listens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("[::1]:80", ("::1", 80)),
        (":9000", ("127.0.0.1", 9000)),
        ("9000", ("127.0.0.1", 9000)),
        ("lab-pc.local:8765", ("lab-pc.local", 8765)),
    ],
)
def test_listen_parses(given: str, expected: tuple[str, int]) -> None:
    assert parse_listen(given) == expected


@pytest.mark.parametrize("given", ["", "host", "1.2.3.4:0", "1.2.3.4:70000", "::1:80", "a b:1"])
def test_listen_refuses_nonsense(given: str) -> None:
    with pytest.raises(ListenError, match="--listen"):
        parse_listen(given)


def test_a_network_address_is_refused_without_auth(
    web_lab_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for host in ("0.0.0.0", "192.168.1.20", "::", "lab-pc.local"):
        with pytest.raises(ListenError, match="refused"):
            check_exposure(host, 8765, auth_configured=False)
        check_exposure(host, 8765, auth_configured=True)
    check_exposure("127.0.0.2", 8765, auth_configured=False)
    assert serve(Config(), web_lab_url, "0.0.0.0:8765") == 2  # before any socket is bound
    assert "refused" in capsys.readouterr().err


def test_web_config(tmp_path: Path) -> None:
    hashed = hash_password("pw", iterations=1000)
    token_file = tmp_path / "web.token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    lab = tmp_path / "lab.toml"
    lab.write_text(
        f'[web]\nlisten = "0.0.0.0:8080"\n[web.auth]\ntoken_file = "web.token"\n'
        f'users = {{ ana = "{hashed}" }}\n'
    )
    config = load_config(str(lab))
    assert config.web.listen == "0.0.0.0:8080" and config.web.auth_configured
    assert WebAuth.from_settings(config.web).token == TOKEN
    token_file.chmod(0o644)  # a secret others can read is refused, as the DB password is
    with pytest.raises(Exception, match="chmod 600"):
        WebAuth.from_settings(config.web)
    lab.write_text(
        f'[web]\nlisten = "nowhere"\n[web.auth]\nusers = {{ ana = "plain" }}\ntoken = "{TOKEN}"\n'
    )
    lab.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(str(lab))
    message = str(caught.value)
    assert "lab.toml:2: web.listen" in message
    assert "web.auth.users.ana: must be a password hash" in message
    assert "web.auth.token: a token here needs" in message


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from cyclerctl import web

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    with pytest.raises(web.MissingExtra, match=r"uvicorn: pip install 'cyclerctl\[web\]'"):
        web.require_extra()


def test_postgresql_through_the_read_only_role(postgres_url: str) -> None:
    """The viewer role (`cyclerctl db viewer`) serves every page and can change nothing."""
    from sqlalchemy import make_url

    from cyclerctl.store.access import grant_viewer
    from tests.tui.conftest import add_running_run, run_cli

    run_cli(
        "run",
        "ncm622-cycling",
        "--cell",
        "ncm622-coin",
        "--set",
        "cycles=1",
        "--db",
        postgres_url,
        "-q",
    )
    add_running_run(postgres_url, "sim:2")
    admin = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        grant_viewer(admin, "lab_viewer", login=True)
        with admin.begin() as connection:
            connection.execute(text("ALTER ROLE lab_viewer PASSWORD 'viewer-pw'"))
    finally:
        admin.dispose()
    viewer_url = make_url(postgres_url).set(username="lab_viewer", password="viewer-pw")
    url = viewer_url.render_as_string(hide_password=False)
    app = open_app(Config(), url)
    try:
        with TestClient(app, base_url=LOCAL) as client:
            urls = [u for u in crawl_urls(client, postgres_url) if "report" not in u]
            statuses = {u: client.get(u).status_code for u in urls}
            assert all(s in (200, 404) for s in statuses.values()), statuses
            assert statuses["/runs/1"] == 200 and statuses["/api/runs/1/plot?width=300"] == 200
            assert len(client.get("/api/overview").json()) == 2
        with pytest.raises(Exception, match=r"read-only|permission denied"):
            app.state.store.set_status(1, "failed", end_reason="web")
    finally:
        app.state.store.close()
