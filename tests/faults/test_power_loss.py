"""Power loss: the daemon killed with -9 at random moments, 100 times in a row.

Two simulated channels work through a queue of short runs (topped up so that there is always
something to write) while the daemon is killed at seeded random moments — during start-up,
while claiming or adopting a run, in the middle of a commit. After every kill, with no daemon
alive, the database must pass ``PRAGMA integrity_check`` and hold every point that was
committed before: the same rows, bit for bit, as after the kill before. At the end every run
has ended with a reason, and every run's points are one unbroken sequence.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from cyclerctl.store import TERMINAL_STATUSES
from tests.daemon.conftest import DaemonProcess, Lab, sim, wait_for

pytestmark = pytest.mark.slow

Start = Callable[[Path], DaemonProcess]

KILLS = 100
SEED = 20261126
CHANNELS = ("sim:1", "sim:2")
SPEED = 100.0  # a run of the daemon-test protocol (one cycle) in ≈ 7 s of wall time


def _database(lab: Lab) -> Path:
    return Path(lab.url.removeprefix("sqlite:///"))


def _integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def _committed(lab: Lab) -> dict[int, NDArray[np.void]]:
    """Every run's stored points, by run id."""
    store = lab.store()
    try:
        return {run.id: store.samples(run.id) for run in store.list_runs()}
    finally:
        store.close()


def _top_up(lab: Lab) -> None:
    """Queue a run on every channel that has nothing left to do."""
    store = lab.store()
    try:
        busy = {r.channel for r in store.list_runs() if r.status not in TERMINAL_STATUSES}
    finally:
        store.close()
    for channel in CHANNELS:
        if channel not in busy:
            lab.submit(channel, cycles=1)


def test_kill_9_a_hundred_times_loses_and_duplicates_nothing(lab: Lab, daemons: Start) -> None:
    rng = random.Random(SEED)
    lab.instruments = [sim("sim", len(CHANNELS), speed=SPEED)]
    for channel in CHANNELS:
        lab.submit(channel, cycles=1)
    daemon = daemons(lab.config())
    before: dict[int, NDArray[np.void]] = {}
    grew = 0  # kills that came after new points were committed
    for kill in range(KILLS):
        _top_up(lab)
        lives = daemon.text().count(" (pid ")
        if kill:
            daemon.start()
        if rng.random() < 0.85:  # most kills once it is up, the others during start-up
            wait_for("the daemon to be up", lambda: daemon.text().count(" (pid ") > lives)  # noqa: B023
        assert daemon.process is not None
        with pytest.raises(subprocess.TimeoutExpired):  # it must not exit by itself
            daemon.process.wait(timeout=rng.uniform(0.0, 3.0))  # commits come each second
        grew += sum(len(p) for p in _committed(lab).values()) > sum(len(p) for p in before.values())
        daemon.kill9()
        assert _integrity(_database(lab)) == "ok", f"after kill {kill}"
        after = _committed(lab)
        for run_id, points in before.items():
            kept = after[run_id][: len(points)]
            assert np.array_equal(kept, points), f"run {run_id} lost points at kill {kill}"
        before = after
    daemon.start()
    store = lab.store()
    try:
        total = len(store.list_runs())
    finally:
        store.close()
    wait_for("every run to end", lambda: _all_ended(lab), timeout=120)
    assert daemon.terminate() == 0
    assert _integrity(_database(lab)) == "ok"
    resumed = _check_every_run(lab, before, total)
    print(f"{KILLS} kills, {grew} after new points were committed, {resumed} resumptions mid-run")
    assert grew >= KILLS // 4  # most kills caught a run in the middle of logging


def _all_ended(lab: Lab) -> bool:
    store = lab.store()
    try:
        return all(r.status in TERMINAL_STATUSES for r in store.list_runs())
    finally:
        store.close()


def _check_every_run(lab: Lab, before: dict[int, NDArray[np.void]], total: int) -> int:
    """Check each run; the number of times runs resumed mid-run."""
    store = lab.store()
    try:
        runs = store.list_runs()
        assert len(runs) == total
        resumed = 0
        for run in runs:
            samples = store.samples(run.id)
            assert np.array_equal(samples[: len(before[run.id])], before[run.id])
            assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1)), run.id
            same_step = np.diff(samples["step"]) == 0
            assert np.all(np.diff(samples["t"])[same_step] > 0), run.id  # nothing twice
            assert run.status == "completed" and run.end_reason, (run.id, run.status)
            assert all(step.end_reason for step in store.steps(run.id)), run.id
            resumed += sum(1 for e in store.events(run.id) if e.kind == "gap")
    finally:
        store.close()
    return resumed
