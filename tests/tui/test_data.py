"""The read model: channel states, paged samples, history, and no engine import."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from cyclerctl.config import Config
from cyclerctl.store import Store
from cyclerctl.tui.data import ChannelRow, LabData
from tests.tui.conftest import FROZEN_NOW


def lab(url: str, config: Config) -> LabData:
    return LabData(Store.open(url), config, clock=lambda: FROZEN_NOW, host="test-pc")


def test_overview_lists_every_channel_with_its_state(lab_url: str, lab_config: Config) -> None:
    rows = {row.channel: row for row in lab(lab_url, lab_config).overview()}
    assert list(rows) == ["sim:1", "sim:2", "sim:3", "sim:4"]
    assert rows["sim:1"].state == "done"
    assert rows["sim:2"].state == "done"
    assert rows["sim:3"].state == "running"
    assert rows["sim:3"].eta_s is not None and rows["sim:3"].elapsed_s == 5400.0
    assert rows["sim:4"] == ChannelRow(channel="sim:4", state="idle")


def test_a_channel_whose_daemon_is_silent_is_offline(lab_url: str, lab_config: Config) -> None:
    data = lab(lab_url, lab_config)
    data.store.heartbeat("bench-pc", host="pc", pid=1, channels=["sim:3", "sim:4"])
    data.clock = lambda: FROZEN_NOW.replace(year=2099)  # the heartbeat is old by then
    rows = {row.channel: row for row in data.overview()}
    assert rows["sim:4"].state == "offline"
    assert rows["sim:1"].state == "done"  # no daemon serves it: not offline
    data.clock = lambda: rows_now(data)
    assert {r.channel: r.state for r in data.overview()}["sim:4"] == "idle"


def rows_now(data: LabData) -> datetime:
    (daemon,) = data.store.daemons()
    return daemon.heartbeat_at + timedelta(seconds=1)


def test_trace_pages_a_fixed_number_of_points_with_the_newest(
    lab_url: str, lab_config: Config
) -> None:
    data = lab(lab_url, lab_config)
    run_id = data.latest_run_on("sim:1")
    assert run_id is not None
    newest = data.store.last_seq(run_id)
    assert newest > 1000
    trace = data.trace(run_id, max_points=100)
    assert len(trace.t) == 100 and trace.total_points == newest
    assert trace.t == sorted(trace.t)
    full = data.store.samples(run_id)
    assert trace.t[-1] == full["t"][-1] and trace.V[0] == full["V"][0]
    last = data.trace(run_id, max_points=50, last=20)
    assert list(last.t) == list(full["t"][-20:])


def test_eis_run_has_a_nyquist_and_history_has_key_results(
    lab_url: str, lab_config: Config
) -> None:
    data = lab(lab_url, lab_config)
    history = data.history()
    assert [h.run.channel for h in history] == ["sim:1", "sim:2"]
    assert "ce_avg=0.98" in history[0].key_results
    assert "conductivity_S_cm=" in history[1].key_results
    z_re, minus_z_im = data.nyquist(history[1].run.id)
    assert len(z_re) == len(minus_z_im) > 10
    detail = data.detail(history[0].run.id)
    assert detail is not None and detail.current_step is None and detail.steps


def test_the_tui_never_imports_the_engine_or_a_driver() -> None:
    code = (
        "import sys, cyclerctl.tui.app\n"
        "bad = [m for m in sys.modules if m.startswith(('cyclerctl.engine', 'cyclerctl.drivers',"
        " 'cyclerctl.daemon'))]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_run_tui_reports_a_bad_config_and_exits_2(tmp_path: Path) -> None:
    from cyclerctl.tui.app import run_tui

    bad = tmp_path / "lab.toml"
    bad.write_text("[daemon]\nnope = 1\n", encoding="utf-8")
    assert run_tui(f"sqlite:///{tmp_path / 'x.db'}", str(bad), read_only=True) == 2


def test_a_run_whose_owner_process_died_is_orphaned(lab_url: str, lab_config: Config) -> None:
    from cyclerctl.protocol import load_plan

    data = lab(lab_url, lab_config)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that is gone: `cyclerctl run` killed with -9
    owner = f"run@test-pc:{child.pid}"
    data.store.heartbeat(owner, host="test-pc", pid=child.pid, channels=["sim:4"])
    run = data.store.create_run(load_plan("li-cu-ce", "li-qse-cu"), operator="ana",
                                instrument={}, channel="sim:4", daemon=owner)  # fmt: skip
    rows = {row.channel: row for row in data.overview()}
    assert rows["sim:4"].state == "orphaned" and rows["sim:4"].run_id == run.id
    data.store.heartbeat(owner, host="test-pc", pid=os.getpid(), channels=["sim:4"])
    assert {r.channel: r.state for r in data.overview()}["sim:4"] == "running"  # alive again
    data.store.close()
