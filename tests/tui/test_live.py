"""End to end with a real daemon: launch from the TUI alone, watch it run, stop it, find it
in history with reason ``operator``. The daemon runs simulated channels in real time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Select

from cyclerctl.config import load_config
from cyclerctl.store import Store
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import LabData
from cyclerctl.tui.screens.history import HistoryScreen
from cyclerctl.tui.screens.launch import LaunchScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from cyclerctl.tui.widgets.dialogs import ConfirmScreen, OperatorScreen
from tests.tui.helpers import sync, wait_for

LIVE_TOML = """
[database]
url = "{url}"
[daemon]
name = "live-test"
poll = "0.2 s"
heartbeat = "0.5 s"
[[instruments]]
name = "sim"
driver = "sim"
cells = ["li-qse-cu", "li-qse-cu"]
speed = 60
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    Store.open(url).close()  # migrated before two processes open it
    config = tmp_path / "lab.toml"
    config.write_text(LIVE_TOML.format(url=url), encoding="utf-8")
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cyclerctl", "daemon", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield url, config
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
        log.close()


def state_of(app: CyclerApp, channel: str) -> str:
    table = app.screen.query_one(ChannelTable)
    return str(table.get_cell(channel, "state")) if channel in table.rows else ""


@pytest.mark.slow
@sync
async def test_launch_watch_stop_history(daemon: tuple[str, Path]) -> None:
    url, config_path = daemon
    store = Store.open(url)
    app = CyclerApp(LabData(store, load_config(str(config_path))), operator_hint="")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: state_of(app, "sim:1") == "idle", timeout=30)
            await pilot.press("l")
            assert isinstance(app.screen, LaunchScreen)
            await pilot.press("enter")  # open the protocol list, type to find li-cu-ce
            await pilot.press(*"li-cu-ce", "enter")
            assert app.screen.query_one("#protocol", Select).value == "li-cu-ce"
            await pilot.press("tab", "enter", *"li-qse-cu", "enter")
            launch = app.screen.query_one("#launch", Button)
            await wait_for(pilot, lambda: not launch.disabled)
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: isinstance(app.screen, OperatorScreen))
            await pilot.press(*"fay", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
            await wait_for(pilot, lambda: state_of(app, "sim:1") == "running", timeout=30)
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen) and "sim:1" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: state_of(app, "sim:1") == "idle", timeout=30)
            await pilot.press("h")
            assert isinstance(app.screen, HistoryScreen)
            history = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: history.row_count == 1, timeout=15)
            assert str(history.get_cell("1", "end")) == "operator"
            assert str(history.get_cell("1", "status")) == "stopped"
    finally:
        store.close()
    with Store.open(url) as check:
        kinds = [(c.kind, c.operator, c.result) for c in check.commands(1)]
    assert kinds == [("submit", "fay", "ok"), ("stop", "fay", "ok")]
