"""The CLI's instrument paths: emulate, probe, and run through each driver's emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cyclerctl.cli import main


@pytest.mark.parametrize("driver", ["biologic", "neware", "scpi"])
def test_run_through_each_driver_on_its_emulator(
    driver: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{in_tmp / 'runs.db'}"
    args = [
        "run",
        "li-cu-ce",
        "--cell",
        "li-qse-cu",
        "--set",
        "cycles=2",
        "--db",
        url,
        "--driver",
        driver,
        "--address",
        "emulated",
        "--virtual-time",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"]["status"] == "completed"
    assert out["run"]["instrument"]["driver"] == driver
    assert out["results"]["ce_avg"] == pytest.approx(0.98, abs=0.002)


def test_emulate_serves_and_probe_identifies(in_tmp: Path) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cyclerctl",
            "emulate",
            "scpi",
            "--listen",
            "127.0.0.1:0",
            "--cell",
            "ncm622-coin",
            "--virtual-time",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "emulator on " in line, line + (server.stderr.read() if server.stderr else "")
        address = line.split("emulator on ", 1)[1].split(" ", 1)[0]
        assert address.startswith("TCPIP::127.0.0.1::")
        probed = subprocess.run(
            [sys.executable, "-m", "cyclerctl", "probe", address, "--driver", "scpi", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert probed.returncode == 0, probed.stderr
        info = json.loads(probed.stdout)
        assert info["identity"]["vendor"].upper().startswith("KEITHLEY")
        assert info["channels"][0]["native_end_conditions"] == []
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "cyclerctl",
                "run",
                "ncm622-cycling",
                "--cell",
                "ncm622-coin",
                "--set",
                "cycles=1",
                "--set",
                "formation_cycles=0",
                "--driver",
                "scpi",
                "--address",
                address,
                "--virtual-time",
                "--db",
                f"sqlite:///{in_tmp / 'r.db'}",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["run"]["status"] == "completed"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_emulate_biologic_explains_it_is_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "biologic"]) == 2
    assert "emulated" in capsys.readouterr().err


def test_probe_of_nothing_fails_clearly() -> None:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cyclerctl", "probe", "127.0.0.1:9", "--driver", "neware"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "127.0.0.1" in result.stderr
    assert time.monotonic() - start < 60
