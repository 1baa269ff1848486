"""Daemon fixtures: a lab folder (config, protocol, cells, SQLite file) and daemon processes.

Daemons run as real subprocesses (``python -m cyclerctl daemon --config …``) so that kill -9
and SIGTERM are the real thing; the test process talks to them only through the database,
as the CLI and the TUI do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from cyclerctl.cli import main
from cyclerctl.resources import cells_dir
from cyclerctl.store import RunInfo, Store

REPO = Path(__file__).resolve().parents[2]

#: rest, then `cycles` × (1C charge ≤ 5 min, rest 1 min, 1C discharge ≤ 5 min): ~12.5 min a
#: cycle of simulated time, recorded every 10 s
PROTOCOL = """\
name = "daemon-test"
description = "short cycling for daemon tests"

[parameters]
cycles = { default = 2, description = "cycles", min = 1 }

[record]
every = "10 s"

[safety]
voltage_min = "2.8 V"
voltage_max = "4.4 V"

[[steps]]
type = "rest"
name = "ocv"
until = { time = "60 s" }

[[steps]]
type = "loop"
name = "cycling"
count = "{cycles}"

  [[steps.steps]]
  type = "cc"
  name = "charge"
  current = "1C"
  direction = "charge"
  until = { voltage_above = "4.3 V", time = "5 min" }

  [[steps.steps]]
  type = "rest"
  until = { time = "60 s" }

  [[steps.steps]]
  type = "cc"
  name = "discharge"
  current = "1C"
  direction = "discharge"
  until = { voltage_below = "3.0 V", time = "5 min" }
"""

SECONDS_PER_CYCLE = 300 + 60 + 300
#: How long a wait may take before it is a hang (see wait_for).
WAIT_S = 30.0


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = WAIT_S, every: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``.

    The timeout bounds a hang, it measures nothing: a daemon process on a loaded 2-core CI
    machine can take well over 10 s to import and start (seen at a load average of 19)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Lab:
    """A lab folder: a config naming instruments, a protocol file, a database."""

    folder: Path
    url: str
    name: str = "lab-daemon"
    instruments: list[str] = field(default_factory=list)
    heartbeat: str = "0.5 s"
    stale_after: str = "2 s"
    daemon_extra: str = ""  # more [daemon] lines

    @property
    def protocol(self) -> str:
        return str(self.folder / "daemon-test.toml")

    def config(self, name: str | None = None, instruments: list[str] | None = None) -> Path:
        """Write a config file (for daemon ``name``, default the lab's) and return its path."""
        name = name or self.name
        path = self.folder / f"{name}.toml"
        body = "\n".join(instruments if instruments is not None else self.instruments)
        path.write_text(
            f'[database]\nurl = "{self.url}"\n\n'
            f'[daemon]\nname = "{name}"\nheartbeat = "{self.heartbeat}"\n'
            f'stale_after = "{self.stale_after}"\npoll = "0.2 s"\n{self.daemon_extra}\n'
            f"{body}\n"
        )
        return path

    def store(self) -> Store:
        return Store.open(self.url)

    def submit(self, channel: str, *extra: str, cycles: int = 2, operator: str = "ana") -> int:
        """`cyclerctl submit` in-process; the new run's id."""
        store = self.store()
        try:
            before = {r.id for r in store.list_runs()}
        finally:
            store.close()
        code = main(
            ["submit", self.protocol, "--cell", "ncm622-coin", "--set", f"cycles={cycles}",
             "--channel", channel, "--operator", operator, "--config", str(self.config()),
             *extra]
        )  # fmt: skip
        assert code == 0
        store = self.store()
        try:
            (new,) = {r.id for r in store.list_runs()} - before
        finally:
            store.close()
        return int(new)

    def run(self, run_id: int) -> RunInfo:
        store = self.store()
        try:
            run = store.get_run(run_id)
        finally:
            store.close()
        assert run is not None
        return run


def sim(name: str, channels: int = 2, *, speed: float | None = None, extra: str = "") -> str:
    """An [[instruments]] entry for a simulated cycler (virtual time unless ``speed``)."""
    timing = f"speed = {speed}\n" if speed is not None else ""
    return (
        f'[[instruments]]\nname = "{name}"\ndriver = "sim"\nchannels = {channels}\n{timing}{extra}'
    )


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    (tmp_path / "daemon-test.toml").write_text(PROTOCOL)
    bad = (cells_dir() / "ncm622-coin.toml").read_text().replace('"ncm622-li"', '"no-such-model"')
    (tmp_path / "unknown-model.toml").write_text(bad)
    return Lab(tmp_path, f"sqlite:///{tmp_path / 'lab.db'}")


class DaemonProcess:
    """``python -m cyclerctl daemon --config …`` in a subprocess, its log in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> DaemonProcess:
        assert self.process is None or self.process.poll() is not None
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cyclerctl", "daemon", "--config", str(self.config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[Path], DaemonProcess]]:
    """Start daemons from config files; every one still running is killed at the end."""
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        process = DaemonProcess(config, tmp_path / f"{config.stem}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.running():
            process.kill9()
