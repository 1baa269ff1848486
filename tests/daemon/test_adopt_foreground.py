"""A foreground run killed with -9 is adopted by a daemon whose config has its channel
(issue 18 part 3): the foreground process owned the run like a daemon, its heartbeat stops,
and after ``stale_after`` the daemon resumes the run from its checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.daemon.conftest import REPO, DaemonProcess, Lab, sim, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9")


@pytest.mark.slow
def test_a_daemon_adopts_a_killed_foreground_run_on_its_channel(
    lab: Lab, daemons: Callable[[Path], DaemonProcess]
) -> None:
    lab.instruments = [sim("sim", 1)]  # the channel `cyclerctl run` calls sim:1
    command = [sys.executable, "-m", "cyclerctl", "run", lab.protocol, "--cell", "ncm622-coin",
               "--set", "cycles=1", "--speed", "30", "--db", lab.url]  # fmt: skip
    with open(lab.folder / "run.out", "wb") as out:
        foreground = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        store = lab.store()
        try:
            wait_for("points stored", lambda: store.list_runs() and store.last_seq(1) >= 3, 60)
            os.kill(foreground.pid, signal.SIGKILL)
            foreground.wait(30)
            killed_at = store.last_seq(1)
            run = lab.run(1)
            assert (
                run.status == "running"
                and run.daemon == f"run@{os.uname().nodename}:{foreground.pid}"
            )
            daemon = daemons(lab.config())
            wait_for("the run adopted and completed", lambda: lab.run(1).status == "completed", 120)
            events = store.events(1)
            (adopted,) = [e for e in events if e.kind == "adopted"]
            assert adopted.data == {"from": run.daemon, "to": lab.name}
            seq = store.samples(1)["seq"]
            np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))
            assert len(seq) > killed_at
            assert daemon.terminate() == 0
        finally:
            store.close()
            if foreground.poll() is None:
                foreground.kill()
