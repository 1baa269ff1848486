"""`cyclerctl commission` end to end on every driver's emulator with a dummy load, and the
line that fails on each deliberately mis-scaled emulator."""

from __future__ import annotations

import json

import pytest

from cyclerctl.cli import main

RC = "R=100 ohm, C=1 mF"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["commission", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _status(report: dict[str, object]) -> dict[str, str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c["status"] for c in checks}


@pytest.mark.parametrize(
    ("driver", "dummy"),
    [
        ("sim", RC),
        ("biologic", RC),
        ("neware", "R=1 kohm"),
        ("scpi", "R=1 kohm"),
    ],
)
def test_a_right_instrument_passes_every_line(
    capsys: pytest.CaptureFixture[str], driver: str, dummy: str
) -> None:
    address = [] if driver == "sim" else ["--address", "emulated", "--virtual-time"]
    code, report = _run(capsys, "--driver", driver, *address, "--dummy", dummy)
    assert code == 0, report
    status = _status(report)
    assert report["passed"] is True
    for line in ("current_sign", "current_scaling", "voltage_scaling", "cv_hold",
                 "record_criteria", "safety_trip"):
        assert status[line] == "pass", report
    assert status["phase"] == ("skip" if driver in ("neware", "scpi") else "pass")


@pytest.mark.parametrize(
    ("driver", "dummy", "miscale", "line"),
    [
        ("neware", "R=1 kohm", "current_mA", "current_scaling"),
        ("scpi", "R=1 kohm", "current_mA", "current_scaling"),
        ("biologic", RC, "phase_degrees", "phase"),
    ],
)
def test_a_mis_scaled_emulator_fails_its_line(
    capsys: pytest.CaptureFixture[str], driver: str, dummy: str, miscale: str, line: str
) -> None:
    code, report = _run(
        capsys, "--driver", driver, "--address", "emulated", "--virtual-time",
        "--dummy", dummy, "--miscale", miscale,
    )  # fmt: skip
    assert code == 1
    assert _status(report)[line] == "fail", report


def test_the_time_base_is_checked_on_an_emulator_running_fast(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _run(
        capsys, "--driver", "neware", "--address", "emulated", "--speed", "20",
        "--dummy", "R=1 kohm",
    )  # fmt: skip
    assert code == 0, report
    assert _status(report)["time_base"] == "pass"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dummy", "C=1 mF"], "R is required"),
        (["--dummy", "R=1 kohm", "--max-current", "1 V"], "current"),
        (["--dummy", "R=1 kohm", "--speed", "0"], "--speed"),
        (["--dummy", "R=1 kohm", "--channel", "9"], "not a channel"),
    ],
)
def test_bad_input_exits_2_saying_what_is_allowed(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["commission", "--driver", "sim", *args]) == 2
    assert message in capsys.readouterr().err


def test_the_table_names_each_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commission", "--driver", "sim", "--dummy", "R=1 kohm"]) == 0
    out = capsys.readouterr().out
    assert "PASS: 13 passed, 0 failed, 1 skipped" in out
    assert "safety_trip" in out and "current_sign" in out


def test_commissioning_a_served_emulator_over_tcp(capsys: pytest.CaptureFixture[str]) -> None:
    """The lab's path: `cyclerctl emulate neware --dummy …` in its own process, then
    `commission` against its address, over loopback TCP."""
    import re
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-m", "cyclerctl", "emulate", "neware", "--listen", "127.0.0.1:0",
         "--virtual-time", "--dummy", "R=1 kohm", "--miscale", "current_mA"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"on (\S+):(\d+)", line)
        assert match, line
        code, report = _run(
            capsys, "--driver", "neware", "--address", f"{match[1]}:{match[2]}",
            "--virtual-time", "--dummy", "R=1 kohm",
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert code == 1
    assert _status(report)["current_scaling"] == "fail"
    assert _status(report)["voltage_scaling"] == "pass"
