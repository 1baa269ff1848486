"""A foreground `cyclerctl run` told to stop by a signal ends like Ctrl-C; one killed with -9
is shown orphaned and `cyclerctl resume` completes it (issue 18 part 3).

Real processes: `python -m cyclerctl run` in a subprocess, signalled with os.kill; on the
SCPI path a SourceMeter emulator (drivers/scpi, real time × speed) on loopback TCP in this
process, so what the instrument was told is read from the emulator itself. Nothing here is
timed: each wait polls for a state and fails with what it waited for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from cyclerctl.cli import main
from cyclerctl.drivers.scpi import start_emulator
from cyclerctl.protocol import load_cell
from cyclerctl.store import Store

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60.0

#: one long constant-current charge: the output is on the whole time, it never ends by itself
LONG_CHARGE = """\
name = "long-charge"
description = "a slow charge that outlasts the test"
[record]
every = "1 s"
[safety]
voltage_min = "2.5 V"
voltage_max = "4.4 V"
[[steps]]
type = "cc"
name = "charge"
current = "0.05C"
direction = "charge"
until = { voltage_above = "4.3 V", time = "20 h" }
"""

#: short enough to finish in seconds in virtual time once resumed
SHORT_CYCLE = """\
name = "short-cycle"
description = "rest, charge, rest, discharge"
[record]
every = "10 s"
[safety]
voltage_min = "2.5 V"
voltage_max = "4.4 V"
[[steps]]
type = "rest"
until = { time = "20 min" }
[[steps]]
type = "cc"
name = "charge"
current = "1C"
direction = "charge"
until = { voltage_above = "4.2 V", time = "70 min" }
[[steps]]
type = "rest"
until = { time = "10 min" }
[[steps]]
type = "cc"
name = "discharge"
current = "1C"
direction = "discharge"
until = { voltage_below = "3.0 V", time = "70 min" }
"""

STOP_SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return value


class Foreground:
    """`python -m cyclerctl run …` in a subprocess, its output in a file."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.out = folder / "run.out"
        self._file: IO[bytes] = open(self.out, "wb")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cyclerctl", "run", *args],
            cwd=REPO,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait(self, timeout: float = WAIT_S) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.wait()


@pytest.fixture
def foreground(tmp_path: Path) -> Iterator[Callable[..., Foreground]]:
    started: list[Foreground] = []

    def start(*args: str) -> Foreground:
        process = Foreground(tmp_path, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def _points(url: str) -> int:
    store = Store.open(url)
    try:
        runs = store.list_runs()
        return store.last_seq(runs[0].id) if runs else 0
    finally:
        store.close()


def _only_run(url: str) -> Any:
    store = Store.open(url)
    try:
        (run,) = store.list_runs()
        events = store.events(run.id)
        return run, events
    finally:
        store.close()


def _stopped_by(url: str, process: Foreground, sig: signal.Signals) -> Any:
    """Send ``sig`` once points are stored; the run as the database keeps it."""
    wait_for("points stored", lambda: _points(url) >= 3)
    process.process.send_signal(sig)
    code = process.wait()
    assert code == 3, process.text()  # stopped: the exit code of Ctrl-C
    run, events = _only_run(url)
    assert run.status == "stopped"
    assert run.end_reason == f"operator:{sig.name}"
    (note,) = [e for e in events if e.kind == "operator"]
    assert note.data == {"signal": sig.name}
    assert f"run {run.id}: stopped (operator:{sig.name})" in process.text()
    print(f"{sig.name}: exit {code}, status {run.status}, end reason {run.end_reason}")
    return run


@posix_only
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_signal_stops_a_simulated_run_like_ctrl_c(
    sig: signal.Signals, tmp_path: Path, foreground: Callable[..., Foreground]
) -> None:
    (tmp_path / "long.toml").write_text(LONG_CHARGE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    process = foreground(str(tmp_path / "long.toml"), "--cell", "ncm622-coin", "--speed", "20",
                         "--db", url)  # fmt: skip
    _stopped_by(url, process, sig)


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_signal_turns_the_smu_output_off_before_the_process_exits(
    sig: signal.Signals, tmp_path: Path, foreground: Callable[..., Foreground]
) -> None:
    (tmp_path / "long.toml").write_text(LONG_CHARGE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    options = {"virtual_time": False, "speed": 20.0, "voltage_limit_V": 5.0, "seed": 3}
    with start_emulator([load_cell("ncm622-coin")], "127.0.0.1", 0, options) as emulator:
        scpi = ("--driver", "scpi", "--address", emulator.address)
        process = foreground(str(tmp_path / "long.toml"), "--cell", "ncm622-coin", *scpi,
                             "--db", url)  # fmt: skip
        wait_for("the output on", lambda: emulator.instrument.handle(":OUTP?") == "1")
        _stopped_by(url, process, sig)
        requests = list(emulator.requests)
        on = max(i for i, line in enumerate(requests) if line.startswith(":OUTP ON"))
        assert ":OUTP OFF" in requests[on:]  # told by the run before it exited
        assert emulator.instrument.handle(":OUTP?") == "0"  # and it is off now
        print(
            f"{sig.name}: emulator saw :OUTP OFF, output now {emulator.instrument.handle(':OUTP?')}"
        )


@posix_only
def test_a_run_killed_with_9_is_orphaned_and_resume_completes_it(
    tmp_path: Path, foreground: Callable[..., Foreground], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "short.toml").write_text(SHORT_CYCLE)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    process = foreground(str(tmp_path / "short.toml"), "--cell", "ncm622-coin", "--speed", "30",
                         "--db", url)  # fmt: skip
    wait_for("points stored", lambda: _points(url) >= 5)
    process.process.send_signal(signal.SIGKILL)
    process.wait()
    before = _points(url)
    capsys.readouterr()
    assert main(["runs", "--db", url]) == 0
    listing = capsys.readouterr().out
    assert " orphaned " in listing, listing
    assert main(["status", "--db", url]) == 0
    status = capsys.readouterr().out
    assert "run 1 orphaned: its owner run@" in status and "`cyclerctl resume 1`" in status
    assert "foreground run run@" in status and "NOT RESPONDING" in status
    print(listing, status, sep="")
    assert main(["resume", "1", "--db", url]) == 0  # virtual time: seconds
    out = capsys.readouterr().out
    assert "taken over from run@" in out and "run 1: completed (completed)" in out
    store = Store.open(url)
    try:
        run = store.get_run(1)
        assert run is not None and run.status == "completed"
        seq = store.samples(1)["seq"]
        np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))  # no hole, none twice
        assert len(seq) > before
        kinds = [e.kind for e in store.events(1)]
        assert "adopted" in kinds and "gap" in kinds
        assert not [d for d in store.daemons() if d.name.startswith("run@")]  # rows cleaned
    finally:
        store.close()
    print(f"killed after {before} points; resumed to {len(seq)} contiguous points, completed")
    assert main(["resume", "1", "--db", url]) == 2  # completed: nothing to resume
