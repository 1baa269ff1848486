"""Nothing listens on the network unless configured, and what listens binds 127.0.0.1.

Checked the way an administrator would, from the kernel's socket tables (/proc/net): the
sockets a process holds open (its /proc/PID/fd links) against every listening TCP socket
and every bound UDP socket, IPv4 and IPv6.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import REPO, DaemonProcess, Lab, sim, wait_for

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

Start = Callable[[Path], DaemonProcess]
LISTEN = "0A"  # TCP state in /proc/net/tcp
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 (as the kernel writes)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def exposed(pid: int) -> list[str]:
    """``table host:port`` of each listening TCP / bound UDP socket the process holds."""
    mine = _socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in mine and (state == LISTEN or table.startswith("udp")):
                found.append(f"{table} {local}")
    return found


def test_the_daemon_listens_on_nothing(lab: Lab, daemons: Start) -> None:
    lab.instruments = [sim("sim", 2, speed=50)]
    run_id = lab.submit("sim:1", cycles=1)
    daemon = daemons(lab.config())
    wait_for("the run to log", lambda: lab.run(run_id).status == "running", timeout=20)
    assert exposed(daemon.pid) == []
    assert daemon.terminate() == 0


@pytest.mark.parametrize("kind", ["scpi", "neware"])
def test_an_emulator_binds_loopback_by_default(kind: str) -> None:
    emulator = subprocess.Popen(
        [sys.executable, "-m", "cyclerctl", "emulate", kind, "--cell", "ncm622-coin"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline()
        assert "emulator on " in line, line
        sockets = exposed(emulator.pid)
        assert sockets, "the emulator listens somewhere"
        hosts = {s.split()[1].rsplit(":", 1)[0] for s in sockets}
        assert hosts <= LOOPBACK, sockets
    finally:
        emulator.kill()
        emulator.wait(10)
