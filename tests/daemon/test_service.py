"""The daemon as a service: the systemd unit it prints, --check-config, status --check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cyclerctl import system
from cyclerctl.cli import main

from .conftest import PROTOCOL, DaemonProcess, Lab, sim, wait_for

Start = Callable[[Path], DaemonProcess]


def _daemons(lab: Lab) -> int:
    store = lab.store()
    try:
        return len(store.daemons())
    finally:
        store.close()


def test_the_systemd_unit_runs_this_daemon_as_me_with_absolute_paths(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.instruments = [sim("sim", 2)]
    config = lab.config()
    monkeypatch.chdir(lab.folder)
    assert main(["daemon", "--config", config.name, "--print-systemd-unit"]) == 0
    unit = capsys.readouterr().out
    print(unit)
    exe = system.cyclerctl_executable()
    assert exe.is_absolute() and exe.name == "cyclerctl"
    lines = unit.splitlines()
    assert "Restart=on-failure" in lines
    assert f"User={system.current_user()}" in lines
    assert f"ExecStartPre={exe} daemon --check-config --config {config.resolve()}" in lines
    assert f"ExecStart={exe} daemon --config {config.resolve()}" in lines
    assert "WantedBy=multi-user.target" in lines and "[Service]" in lines
    if shutil.which("systemd-analyze"):  # the unit's syntax, as systemd reads it
        path = lab.folder / "cyclerctl.service"
        path.write_text(unit)
        result = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def test_check_config_reaches_the_database_and_lists_the_instruments(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.instruments = [sim("sim", 2), sim("rack", 3, speed=10)]
    config = lab.config()
    code = subprocess.run(  # as systemd's ExecStartPre runs it
        [sys.executable, "-m", "cyclerctl", "daemon", "--check-config", "--config", str(config)],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    assert f"config {config.resolve()}: ok (daemon {lab.name})" in code.stdout
    assert "reached, schema up to date" in code.stdout
    assert "instrument sim: sim; channels sim:1, sim:2" in code.stdout
    assert "instrument rack: sim; channels rack:1, rack:2, rack:3" in code.stdout
    # a database that cannot be reached, a config with an error: exit 2, no traceback
    config.write_text(
        config.read_text().replace(lab.url, "postgresql+psycopg://lab@127.0.0.1:1/lab")
    )
    assert main(["daemon", "--check-config", "--config", str(config)]) == 2
    assert "cannot open database" in capsys.readouterr().err
    config.write_text(config.read_text() + '\n[[instruments]]\nname = "x"\ndriver = "nope"\n')
    assert main(["daemon", "--check-config", "--config", str(config)]) == 2
    assert "unknown driver 'nope'" in capsys.readouterr().err


def test_status_check_reports_a_stale_daemon_and_a_channel_in_alarm(
    lab: Lab, daemons: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(lab.protocol).write_text(
        PROTOCOL.replace('voltage_max = "4.4 V"', 'voltage_max = "3.6 V"')
    )
    lab.instruments = [sim("sim", 2)]
    config = str(lab.config())
    assert main(["status", "--check", "--config", config]) == 1
    assert (
        capsys.readouterr().out
        == f"CRITICAL: daemon {lab.name} has never run against this database\n"
    )
    daemon = daemons(lab.config())
    wait_for("the heartbeat", lambda: _daemons(lab), timeout=20)
    assert main(["status", "--check", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("OK: 2 channel(s), none in alarm; 1 daemon(s) alive")
    run_id = lab.submit("sim:1", cycles=1)
    wait_for("the safety stop", lambda: lab.run(run_id).status == "safety_stop", timeout=30)
    capsys.readouterr()  # what submit said
    assert main(["status", "--check", "--config", config]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"CRITICAL: sim:1: run {run_id} safety_stop (safety:voltage_max): voltage_max 3.6 V "
        "breached: measured " + out[0].rsplit("measured ", 1)[1]
    ]
    daemon.kill9()
    wait_for(
        "the daemon to be stale",
        lambda: (
            main(["status", "--check", "--config", config]) == 1
            and "not responding" in capsys.readouterr().out
        ),
        timeout=20,
        every=0.5,
    )
