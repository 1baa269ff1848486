"""The screens ask for things by message: hosted by a bare App (not CyclerApp), a screen
reads the LabData it was given and posts OpenChannel/LaunchOnChannel/CommandRun/ShowRun
up to its parent, which here only records them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.app import App
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.data import LabData
from cyclerctl.tui.messages import CommandRun, LaunchOnChannel, OpenChannel, ShowRun
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.history import HistoryScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.tui.conftest import FROZEN_NOW
from tests.tui.helpers import sync, wait_for

SIZE = (80, 24)


class Host(App[None]):
    """Shows one screen and keeps every request it receives, doing nothing else."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.first = screen
        self.received: list[Message] = []

    def on_mount(self) -> None:
        self.push_screen(self.first)

    def on_open_channel(self, message: OpenChannel) -> None:
        self.received.append(message)

    def on_launch_on_channel(self, message: LaunchOnChannel) -> None:
        self.received.append(message)

    def on_command_run(self, message: CommandRun) -> None:
        self.received.append(message)

    def on_show_run(self, message: ShowRun) -> None:
        self.received.append(message)


@pytest.fixture
def lab(lab_url: str, lab_config: Config) -> Iterator[LabData]:
    with Store.open(lab_url) as store:
        yield LabData(store, lab_config, clock=lambda: FROZEN_NOW, host="test-pc")


@sync
async def test_the_overview_posts_what_the_operator_asks_for(lab: LabData) -> None:
    screen = OverviewScreen(lab, read_only=True)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: screen.query_one(ChannelTable).row_count == 4)
        await pilot.press("down", "down", "enter", "p", "down", "l")  # sim:3, then sim:4
        await wait_for(pilot, lambda: len(app.received) == 3)
        opened, command, launch = app.received
        assert isinstance(opened, OpenChannel) and opened.row.channel == "sim:3"
        assert isinstance(command, CommandRun)
        assert (command.run_id, command.kind, command.channel, command.status) == (
            3, "pause", "sim:3", "running")  # fmt: skip
        assert isinstance(launch, LaunchOnChannel) and launch.row.channel == "sim:4"
        assert app.screen is screen  # the host pushed nothing: the screen only asked


@sync
async def test_the_detail_and_history_screens_post_their_requests(lab: LabData) -> None:
    detail = DetailScreen(lab, 3, "sim:3")
    app = Host(detail)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: detail.detail is not None)
        await pilot.press("s")
        await wait_for(pilot, lambda: len(app.received) == 1)
        command = app.received[0]
        assert isinstance(command, CommandRun)
        assert (command.run_id, command.kind, command.channel, command.status) == (
            3, "stop", "sim:3", "running")  # fmt: skip
        assert command.cell is not None and command.cell.startswith("Li|QSE|Cu")
    history = HistoryScreen(lab)
    app = Host(history)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: history.query_one(DataTable).row_count == 2)
        await pilot.press("enter")  # the newest finished run: run 2, on sim:1
        await wait_for(pilot, lambda: len(app.received) == 1)
        shown = app.received[0]
        assert isinstance(shown, ShowRun) and (shown.run_id, shown.channel) == (2, "sim:1")
