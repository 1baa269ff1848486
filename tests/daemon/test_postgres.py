"""Two daemons, different instruments, one PostgreSQL database: one queue, no run twice.

The server is a throwaway one started by tests/support/postgres (the store tests' helper);
without PostgreSQL binaries the test skips (CYCLERCTL_TEST_POSTGRES=require: fails).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cyclerctl.engine.program import total_positions
from cyclerctl.protocol import load_plan
from tests.support.postgres import PostgresServer

from .conftest import DaemonProcess, Lab, sim, wait_for
from .test_daemon import _check_continuity, _ended

Start = Callable[[Path], DaemonProcess]


@pytest.fixture
def pg_lab(lab: Lab, postgres: PostgresServer) -> Iterator[Lab]:
    name = postgres.unique_name("daemons")
    lab.url = postgres.create_database(name)
    try:
        yield lab
    finally:
        postgres.drop_database(name)


def test_two_daemons_share_one_queue_and_a_dead_ones_runs_are_adopted(
    pg_lab: Lab, daemons: Start
) -> None:
    lab = pg_lab
    pc_a = lab.config("pc-a", [sim("a", 2)])
    pc_b = lab.config("pc-b", [sim("b", 2)])
    lab.instruments = [sim("a", 2), sim("b", 2)]  # what submit checks channel names against
    channels = ["a:1", "a:2", "b:1", "b:2"]
    queued = [lab.submit(channels[k % 4], cycles=1) for k in range(12)]
    a, b = daemons(pc_a), daemons(pc_b)
    runs = wait_for("the queue to empty", lambda: _ended(lab, *queued), timeout=60)
    plan = load_plan(lab.protocol, "ncm622-coin", {"cycles": "1"})
    store = lab.store()
    try:
        for run in runs:
            assert run.status == "completed", (a.text(), b.text())
            owner = "pc-a" if run.channel.startswith("a:") else "pc-b"
            assert run.daemon == owner
            steps = store.steps(run.id)  # run once: every step exactly once
            assert [s.step for s in steps] == list(range(1, total_positions(plan) + 1))
            (submit,) = [c for c in store.commands(run.id) if c.kind == "submit"]
            assert submit.acknowledged_by == owner
    finally:
        store.close()
    # on each channel, in the order submitted
    for channel in channels:
        mine = [r for r in runs if r.channel == channel]
        for before, after in itertools.pairwise(mine):
            assert before.ended_at and after.started_at and before.ended_at <= after.started_at

    # pc-a dies mid-run; pc-c, a spare PC given a's instrument, takes its run over once
    # pc-a's heartbeat is stale_after old
    long_config = lab.config("pc-a", [sim("a", 2, speed=150)])
    assert long_config == pc_a
    assert a.terminate() == 0
    a.start()
    run_id = lab.submit("a:1", cycles=1)
    wait_for("pc-a to run it", lambda: lab.run(run_id).status == "running", timeout=15)
    wait_for("points", lambda: _points(lab, run_id) > 5, timeout=15)
    a.kill9()
    pc_c = lab.config("pc-c", [sim("a", 2, speed=150)])
    c = daemons(pc_c)
    wait_for("pc-c to adopt the run", lambda: lab.run(run_id).daemon == "pc-c", timeout=20)
    wait_for("the adopted run to end", lambda: _ended(lab, run_id), timeout=30)
    assert lab.run(run_id).status == "completed", c.text()
    _check_continuity(lab, run_id, cycles=1)
    store = lab.store()
    try:
        kinds = [e.kind for e in store.events(run_id)]
    finally:
        store.close()
    assert kinds.count("adopted") == 1 and kinds.count("gap") == 1
    for daemon in (b, c):
        assert daemon.terminate() == 0


def _points(lab: Lab, run_id: int) -> int:
    store = lab.store()
    try:
        return store.last_seq(run_id)
    finally:
        store.close()
