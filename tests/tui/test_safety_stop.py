"""#9: a run that really ended on a safety limit (simulator + engine, through the CLI in a
subprocess: the TUI never imports the engine) is unmistakable in the overview and in the
run's detail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Static

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import LabData, limit_text, safety_reason
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from cyclerctl.tui.widgets.run_tables import EventTable
from tests.tui.conftest import FROZEN_NOW
from tests.tui.helpers import sync, wait_for

#: a charge on a cell that sits at 3.0 V under a protocol whose floor is 3.2 V: the
#: engine's safety check trips on the first sample block (a cell put on the wrong protocol)
FLOOR_PROTOCOL = """
name = "floor-drill"
description = "C/10 charge under a 3.2 V safety floor"

[record]
every = "10 s"
voltage_change = "5 mV"

[safety]
voltage_min = "3.2 V"
voltage_max = "4.4 V"

[[steps]]
type = "cc"
name = "charge"
current = "C/10"
direction = "charge"
until = { voltage_above = "4.2 V", time = "2 h" }
"""


@pytest.fixture(scope="module")
def safety_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("safety")
    (folder / "floor.toml").write_text(FLOOR_PROTOCOL, encoding="utf-8")
    db = folder / "runs.db"
    done = subprocess.run(
        [sys.executable, "-m", "cyclerctl", "run", str(folder / "floor.toml"), "--cell",
         "ncm622-coin", "--db", f"sqlite:///{db}", "--operator", "ana", "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # 1: the run ended on safety
    with Store.open(f"sqlite:///{db}") as store:
        (run,) = store.list_runs()
        assert (run.status, run.end_reason) == ("safety_stop", "safety:voltage_min")
    return db


def open_app(db: Path) -> tuple[CyclerApp, Store]:
    store = Store.open(f"sqlite:///{db}")
    lab = LabData(store, Config(), clock=lambda: FROZEN_NOW, host="test-pc")
    return CyclerApp(lab, read_only=True), store


@sync
async def test_overview_and_detail_show_the_limit_that_stopped_the_run(
    safety_lab: Path,
) -> None:
    app, store = open_app(safety_lab)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.query_one(ChannelTable).row_count == 1)
            table = app.screen.query_one(ChannelTable)
            state = table.get_cell("sim:1", "state")
            assert isinstance(state, Text)
            assert state.plain == "safety V<3.2V"
            assert str(state.style) == "bold white on red"
            title = str(app.screen.query_one("#title", Static).content)
            assert "1 safety stop" in title
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                           and app.screen.detail is not None)  # fmt: skip
            screen = app.screen
            assert isinstance(screen, DetailScreen) and screen.detail is not None
            assert screen.detail.alarm == "V<3.2 V"
            head = str(screen.query_one("#head", Static).content)
            assert "SAFETY STOP: V<3.2 V" in head
            events = screen.query_one(EventTable)
            rows = [events.get_row_at(i) for i in range(events.row_count)]
            alarms = [r for r in rows if r[2] == "safety"]
            assert len(alarms) == 1
            assert str(alarms[0][1]) == "alarm" and "voltage_min 3.2 V" in str(alarms[0][3])
            await pilot.press("escape")
            assert isinstance(app.screen, OverviewScreen)
    finally:
        store.close()


def test_the_reason_reads_like_the_limit() -> None:
    assert limit_text("voltage_max", 4.4) == "V>4.4 V"
    assert limit_text("current_max", 0.005) == "|I|>5 mA"
    assert limit_text("temperature_max", 333.15) == "T>60 °C"
    assert limit_text("voltage_min", None) == "V<?"
    # no safety event stored (an older run): the run's end reason still names the limit
    assert safety_reason([], "safety:voltage_max") == "V>?"
    assert safety_reason([], None) == "limit"
