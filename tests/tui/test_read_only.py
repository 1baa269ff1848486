"""#9: ``cyclerctl tui --read-only``: no key issues a command, and the database itself is
opened read-only (SQLite ``mode=ro``), so not even a bug could write."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from textual.binding import Binding

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.app import make_app, read_only_url, run_tui
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.tui.helpers import sync, wait_for

#: actions that write (a command or a submitted run)
WRITING_ACTIONS = ("command", "launch")


def writing_keys(screen: type[OverviewScreen] | type[DetailScreen]) -> list[str]:
    keys = [b.key for b in screen.BINDINGS
            if isinstance(b, Binding) and b.action.startswith(WRITING_ACTIONS)]  # fmt: skip
    return [key for binding in keys for key in binding.split(",")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(url: str) -> tuple[int, int]:
    with Store.open(url) as store, store.engine.connect() as connection:
        runs = connection.exec_driver_sql("SELECT count(*) FROM runs").scalar_one()
        commands = connection.exec_driver_sql("SELECT count(*) FROM commands").scalar_one()
    return int(runs), int(commands)


@sync
async def test_no_key_on_any_screen_issues_a_command(
    lab_dir: Path, lab_url: str, lab_config: Config
) -> None:
    assert sorted(writing_keys(OverviewScreen)) == ["l", "p", "r", "s"]
    assert sorted(writing_keys(DetailScreen)) == ["p", "r", "s"]
    before = counts(lab_url)
    db = lab_dir / "runs.db"
    file_before = digest(db)
    app = make_app(lab_url, lab_config, read_only=True)
    app.operator = "eve"  # no name prompt in the way: only the read-only guard can refuse
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.query_one(ChannelTable).row_count == 4)
            for row in range(4):  # done, done, running (sim:3), idle: every kind of row
                for key in writing_keys(OverviewScreen):
                    await pilot.press(key)
                    await pilot.press("y")  # would confirm a dialog, were one open
                    assert isinstance(app.screen, OverviewScreen), (row, key)
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                               and (app.screen.detail is not None  # sim:4 has no run
                                    or app.screen.run_id is None))  # fmt: skip
                for key in writing_keys(DetailScreen):
                    await pilot.press(key)
                    await pilot.press("y")
                    assert isinstance(app.screen, DetailScreen), (row, key)
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
                await pilot.press("down")
            await pilot.pause()
        # and underneath the keys: the connection itself refuses to write
        with pytest.raises(OperationalError, match="readonly"):
            app.lab.command(3, "stop", operator="eve")
    finally:
        app.lab.store.close()
    assert counts(lab_url) == before
    assert digest(db) == file_before


def test_read_only_url_for_each_backend(tmp_path: Path) -> None:
    url = read_only_url(f"sqlite:///{tmp_path / 'a b#1.db'}")
    Store.open(f"sqlite:///{tmp_path / 'a b#1.db'}").close()
    with Store.open(url) as store:  # the odd characters survive the URI
        assert store.engine.url.database is not None
        assert store.engine.url.database.endswith("?mode=ro")
        assert store.channel_status() == []
    postgres = read_only_url("postgresql://lab@db.example/cycling")
    assert "default_transaction_read_only" in postgres
    assert read_only_url("sqlite://") == "sqlite://"


def test_read_only_never_creates_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    config = tmp_path / "lab.toml"
    config.write_text("", encoding="utf-8")
    assert run_tui(f"sqlite:///{missing}", str(config), read_only=True) == 2
    assert not missing.exists()
