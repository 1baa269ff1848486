"""A lab database made by really running the simulator, plus fixed status rows.

Runs are prepared with ``python -m cyclerctl run`` in a subprocess (the TUI itself never
imports the engine). Built once per session and copied per test: tests may write to it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cyclerctl.config import Config, load_config
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store, models
from cyclerctl.store.upsert import upsert
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.data import LabData

#: the frozen "now" of every TUI test (daemon heartbeats are judged against it)
FROZEN_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LAB_TOML = """
[daemon]
name = "bench-pc"
[[instruments]]
name = "sim"
driver = "sim"
cells = ["li-qse-cu", "ss-qse-ss", "li-qse-cu", "li-qse-cu"]
"""


def run_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cyclerctl", *args], check=True, capture_output=True,
                   timeout=120)  # fmt: skip


def add_running_run(url: str, channel: str, *, status: str = "running") -> int:
    """A run that is going on now, with a fixed status row (no samples needed)."""
    plan = load_plan("li-cu-ce", "li-qse-cu", {"cycles": "3"})
    store = Store.open(url)
    try:
        run = store.create_run(plan, operator="ana", instrument={"model": "sim"},
                               channel=channel, status=status)  # fmt: skip
        values = {
            "channel": channel,
            "run_id": run.id,
            "t": 5400.0,
            "V": -0.0123,
            "I": -0.000565,
            "Q": -3.05,
            "T_K": None,
            "step": 1,
            "cycle": 0,
            "status": status,
            "updated_at": FROZEN_NOW,
        }
        with store.engine.begin() as connection:
            connection.execute(
                upsert(models.channel_latest, connection.dialect, values, ("channel",))
            )
        return run.id
    finally:
        store.close()


def move_channel(url: str, old: str, new: str) -> None:
    store = Store.open(url)
    try:
        with store.engine.begin() as connection:
            for table in (models.runs, models.channel_latest):
                connection.execute(table.update().where(table.c.channel == old).values(channel=new))
    finally:
        store.close()


@pytest.fixture(scope="session")
def lab_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lab")
    url = f"sqlite:///{folder / 'runs.db'}"
    # the CLI's sim has one channel, sim:1: the EIS run is moved to sim:2 afterwards
    run_cli("run", "eis-conductivity", "--cell", "ss-qse-ss", "--db", url, "--operator", "ben",
            "-q")  # fmt: skip
    move_channel(url, "sim:1", "sim:2")
    run_cli("run", "li-cu-ce", "--cell", "li-qse-cu", "--set", "cycles=2", "--db", url,
            "--operator", "ana", "-q")  # fmt: skip
    add_running_run(url, "sim:3")
    (folder / "lab.toml").write_text(LAB_TOML, encoding="utf-8")
    return folder


@pytest.fixture
def lab_dir(lab_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "lab"
    shutil.copytree(lab_template, target)
    return target


@pytest.fixture
def lab_url(lab_dir: Path) -> str:
    return f"sqlite:///{lab_dir / 'runs.db'}"


@pytest.fixture
def lab_config(lab_dir: Path) -> Config:
    return load_config(str(lab_dir / "lab.toml"))


@pytest.fixture
def make_app(lab_url: str, lab_config: Config) -> Iterator[Callable[..., CyclerApp]]:
    stores: list[Store] = []

    def make(*, read_only: bool = False, operator: str | None = None) -> CyclerApp:
        store = Store.open(lab_url)
        stores.append(store)
        app = CyclerApp(LabData(store, lab_config, clock=lambda: FROZEN_NOW, host="test-pc"),
                        read_only=read_only, operator_hint="ana")  # fmt: skip
        app.operator = operator
        return app

    yield make
    for store in stores:
        store.close()
