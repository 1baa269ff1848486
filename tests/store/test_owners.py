"""Run owners and orphaned runs (issue 18 part 3): a foreground process owns its run like a
daemon; its run is orphaned when its heartbeat is stale or, on this PC, its process is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import update

from cyclerctl.plan import Plan
from cyclerctl.store import Store, models
from cyclerctl.store.owners import ORPHANED, foreground_owner, orphaned, shown_status
from cyclerctl.store.records import DaemonInfo, utcnow

STALE_S = 15.0


def _dead_pid() -> int:
    """The id of a process that has just exited (not reused this soon)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _owners(store: Store) -> dict[str, DaemonInfo]:
    return {d.name: d for d in store.daemons()}


def test_a_run_whose_process_is_gone_from_this_pc_is_orphaned_at_once(
    store: Store, plan: Plan
) -> None:
    host = socket.gethostname()
    alive, dead = foreground_owner(host, os.getpid()), foreground_owner(host, _dead_pid())
    store.heartbeat(alive, host=host, pid=os.getpid(), channels=["sim:1"])
    store.heartbeat(dead, host=host, pid=int(dead.rsplit(":", 1)[1]), channels=["sim:2"])
    mine = store.create_run(plan, operator="o", instrument={}, channel="sim:1", daemon=alive)
    theirs = store.create_run(plan, operator="o", instrument={}, channel="sim:2", daemon=dead)
    legacy = store.create_run(plan, operator="o", instrument={}, channel="sim:3")  # no owner
    owners = _owners(store)
    assert not orphaned(mine, owners, stale_after_s=STALE_S)
    assert orphaned(theirs, owners, stale_after_s=STALE_S)  # heartbeat fresh, process gone
    assert shown_status(theirs, owners, stale_after_s=STALE_S) == ORPHANED
    assert shown_status(legacy, owners, stale_after_s=STALE_S) == "running"  # nobody can tell
    # the SQL side only knows heartbeats: the caller names the owners it found gone
    assert not store.adopt(theirs.id, alive, stale_after_s=STALE_S)
    assert store.adopt(theirs.id, alive, stale_after_s=STALE_S, dead=[dead])
    assert not store.adopt(mine.id, "someone", stale_after_s=STALE_S, dead=[dead])
    (adopted,) = [e for e in store.events(theirs.id) if e.kind == "adopted"]
    assert adopted.data == {"from": dead, "to": alive}
    store.forget_daemon(dead)
    assert dead not in _owners(store)


def test_an_owner_on_another_pc_is_judged_by_its_heartbeat(store: Store, plan: Plan) -> None:
    owner = foreground_owner("other-pc", 4242)
    store.heartbeat(owner, host="other-pc", pid=4242, channels=["sim:1"])
    run = store.create_run(plan, operator="o", instrument={}, channel="sim:1", daemon=owner)
    assert not orphaned(run, _owners(store), stale_after_s=STALE_S)  # its pid is not ours
    with store.engine.begin() as connection:
        connection.execute(
            update(models.daemons)
            .where(models.daemons.c.name == owner)
            .values(heartbeat_at=utcnow() - timedelta(seconds=STALE_S + 1))
        )
    assert orphaned(run, _owners(store), stale_after_s=STALE_S)
    store.set_status(run.id, "completed", end_reason="completed")
    ended = store.get_run(run.id)
    assert ended is not None and not orphaned(ended, _owners(store), stale_after_s=STALE_S)


def test_a_killed_process_not_yet_reaped_counts_as_gone() -> None:
    from cyclerctl.host_os import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        if sys.platform == "linux":  # exited, its parent (this test) has not reaped it
            deadline = 100
            while pid_alive(child.pid) and deadline:
                deadline -= 1
                subprocess.run([sys.executable, "-c", "import time; time.sleep(0.05)"])
            assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert not pid_alive(child.pid) and pid_alive(os.getpid())
