"""`cyclerctl watch RUN` against a real run: a background `cyclerctl run --speed 100`
writing to a SQLite file, watched from this process through the database only."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyclerctl.cli import main
from cyclerctl.cli.common import EXIT_BY_STATUS
from cyclerctl.store import Store
from cyclerctl.watch import RunWatch, look
from tests.daemon.conftest import PROTOCOL

REPO = Path(__file__).resolve().parents[2]


def _start_run(folder: Path, protocol: str, cycles: int) -> tuple[str, subprocess.Popen[bytes]]:
    (folder / "p.toml").write_text(protocol)
    url = f"sqlite:///{folder / 'lab.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "cyclerctl", "run", str(folder / "p.toml"), "--cell",
         "ncm622-coin", "--set", f"cycles={cycles}", "--speed", "100", "--db", url, "-q"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:  # the run exists once the process has created it
        if (folder / "lab.db").exists():
            store = Store.open(url)
            try:
                if store.list_runs():
                    return url, process
            finally:
                store.close()
        assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)


@pytest.fixture
def runs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_watch_follows_a_run_to_its_end_and_exits_with_its_code(
    tmp_path: Path, runs: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, process = _start_run(tmp_path, PROTOCOL, cycles=2)
    runs.append(process)
    code = main(["watch", "1", "--db", url, "--plain", "--interval", "0.2"])
    out = capsys.readouterr().out
    print(out)
    assert process.wait(60) == 0 == code
    lines = out.splitlines()
    assert lines[-1] == "run 1: completed (completed)"
    status = [line for line in lines if line.startswith("run 1 running") and "step" in line]
    assert status and all("% ETA" in line and "V " in line and " mA" in line for line in status)
    assert any("step 2 charge  cycle 1" in line for line in status)
    assert any("cycle 2" in line for line in status)
    cycles = [line for line in lines if line.startswith("cycle ")]
    assert [c.split(":")[0] for c in cycles] == ["cycle 1", "cycle 2"]
    # the first cycle carries the NCM622 formation loss (CE ~0.88), the next ~0.998
    assert all("discharge" in c and re.search(r"CE 0\.(8|9)\d", c) for c in cycles)
    # the progress bar only grows
    percents = [int(line.split("]")[1].split("%")[0]) for line in status]
    assert percents == sorted(percents)


def test_watch_exits_1_on_a_safety_stop(
    tmp_path: Path, runs: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    protocol = PROTOCOL.replace('voltage_max = "4.4 V"', 'voltage_max = "3.6 V"')
    url, process = _start_run(tmp_path, protocol, cycles=1)
    runs.append(process)
    assert main(["watch", "1", "--db", url, "--plain", "--interval", "0.2"]) == 1
    assert process.wait(60) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "run 1: safety_stop (safety:voltage_max)"


def test_on_a_terminal_the_status_line_is_redrawn_in_place(
    tmp_path: Path, runs: list[subprocess.Popen[bytes]]
) -> None:
    url, process = _start_run(tmp_path, PROTOCOL, cycles=1)
    runs.append(process)
    out = io.StringIO()
    watch = RunWatch(out, live=True)
    store = Store.open(url)
    try:
        seen = look(store, 1)
        watch.show(seen)
        watch.show(seen)
        assert process.wait(60) == 0
        watch.finish(look(store, 1))
    finally:
        store.close()
    text = out.getvalue()
    assert text.startswith("\rrun 1 ") and text.count("\rrun 1 ") == 2
    assert text.endswith("\nrun 1: completed (completed)\n")
    assert "cycle 1: charge" in text


def test_watch_knows_the_exit_codes_without_the_engine() -> None:
    # the README's exit codes: 0 completed; 1 safety stop or fault; 3 stopped by the operator
    assert EXIT_BY_STATUS == {
        "completed": 0, "safety_stop": 1, "failed": 1, "stopped": 3, "interrupted": 3
    }
    code = (
        "import sys, cyclerctl.cli.watch, cyclerctl.watch; "
        "print('cyclerctl.engine.session' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_watch_a_run_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["watch", "7", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "run '7': no such run" in capsys.readouterr().err
