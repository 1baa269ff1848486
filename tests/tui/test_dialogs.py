"""The confirmation names the cell and the channel in full, even at 80 columns."""

from __future__ import annotations

from textual.app import App

from cyclerctl.tui.widgets.dialogs import ConfirmScreen
from tests.tui.helpers import sync

QUESTION = "Stop run 1 of cell Li|QSE|Cu 12 mm, 100 um membrane on channel sim:1?"


class _Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(ConfirmScreen(QUESTION, "Stop"))


@sync
async def test_a_long_question_wraps_instead_of_losing_the_channel() -> None:
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.export_screenshot()
    assert "sim:1" in screen  # the end of the question, past 60 columns
