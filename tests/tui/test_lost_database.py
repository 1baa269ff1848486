"""#9: a TUI whose database goes away says so on screen and keeps running."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Static

from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.tui.helpers import sync, wait_for

MakeApp = Callable[..., CyclerApp]


def title(app: CyclerApp) -> str:
    return str(app.screen.query_one("#title", Static).content)


@sync
async def test_a_removed_database_file_is_shown_and_the_app_keeps_running(
    make_app: MakeApp, lab_dir: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(ChannelTable).row_count == 4)
        assert "DATABASE" not in title(app)
        for suffix in ("", "-wal", "-shm"):  # what `rm runs.db*` does under a running TUI
            (lab_dir / f"runs.db{suffix}").unlink(missing_ok=True)
        # the open connections could go on reading the deleted file: the screen must not
        # pass those values off as live
        await wait_for(pilot, lambda: "DATABASE" in title(app), timeout=20)
        assert "is gone" in title(app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen) and screen.problem is not None
        assert app.screen.query_one(ChannelTable).row_count == 4  # the last values stay
        # still answering keys
        await pilot.press("f")
        assert screen.state_filter == "running"
        await pilot.press("f", "f", "f", "f", "f")
        await pilot.press("enter")  # sim:1's run is known: its detail opens, reads fail
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await wait_for(pilot, lambda: detail.problem is not None, timeout=20)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        assert app.is_running
    assert not (lab_dir / "runs.db").exists()  # and nothing made a new, empty one
