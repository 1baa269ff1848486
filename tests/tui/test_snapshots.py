"""Snapshots at 80×24 of the overview, a run's detail and the launch form.

Deterministic: the data comes from seeded simulator runs in virtual time plus fixed status
rows, and the app's clock is frozen (tests.tui.conftest.FROZEN_NOW). Update after an
intended change with ``pytest tests/tui --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Select

from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.tui.helpers import wait_for

MakeApp = Callable[..., CyclerApp]
SIZE = (80, 24)


async def overview_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.query_one(ChannelTable).row_count == 4)
    # two complete poll cycles: the table holds settled values, not the first partial read
    shown = getattr(pilot.app.screen, "reads_shown", 0)
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "reads_shown", 0) >= shown + 1)
    await pilot.pause()


def test_overview(snap_compare: Any, make_app: MakeApp) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=overview_ready)


def test_detail(snap_compare: Any, make_app: MakeApp) -> None:
    async def open_sim1(pilot: Pilot[Any]) -> None:
        await overview_ready(pilot)
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.detail
        )
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=open_sim1)


def test_launch(snap_compare: Any, make_app: MakeApp) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        await overview_ready(pilot)
        await pilot.press("down", "down", "down", "l")
        screen = pilot.app.screen
        screen.query_one("#protocol", Select).value = "li-cu-ce"
        screen.query_one("#cell", Select).value = "li-qse-cu"
        launch = screen.query_one("#launch", Button)
        await wait_for(pilot, lambda: not launch.disabled)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=fill)
