"""The TUI on PostgreSQL: ``--read-only`` sessions are read-only transactions, and a
table locked by another session shows as a problem while the read waits, the screen still
answering keys, and clears when the lock goes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InternalError, OperationalError
from textual.widgets import Static

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.app import make_app
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.support.postgres import PostgresServer
from tests.tui.conftest import add_running_run
from tests.tui.helpers import sync, wait_for


@pytest.fixture
def lab_url(postgres: PostgresServer) -> str:
    url = postgres.fresh_database()
    Store.open(url).close()
    add_running_run(url, "sim:1")
    return url


@sync
async def test_read_only_session_cannot_write_and_a_lock_is_shown(lab_url: str) -> None:
    app = make_app(lab_url, Config(), read_only=True)
    app.operator = "eve"
    locker = create_engine(lab_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with pytest.raises((InternalError, OperationalError), match="read-only transaction"):
            app.lab.command(1, "stop", operator="eve")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.query_one(ChannelTable).row_count == 1)
            screen = app.screen
            assert isinstance(screen, OverviewScreen)
            title = screen.query_one("#title", Static)
            with locker.connect() as connection:
                transaction = connection.begin()
                connection.execute(text("LOCK TABLE channel_latest IN ACCESS EXCLUSIVE MODE"))
                connection.execute(text('UPDATE channel_latest SET "V" = 1.2345'))
                await wait_for(pilot, lambda: "no answer" in str(title.content), timeout=20)
                await pilot.press("f")  # keys still work while the read is stuck
                assert screen.state_filter == "running"
                await pilot.press("f", "f", "f", "f", "f")
                transaction.commit()
            await wait_for(pilot, lambda: "DATABASE" not in str(title.content), timeout=20)
            table = screen.query_one(ChannelTable)
            await wait_for(pilot, lambda: table.get_cell("sim:1", "V") == "1.2345")
    finally:
        locker.dispose()
        app.lab.store.close()
