"""Heartbeats, orphaned runs and adoption; a stale heartbeat is an old timestamp written in."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import update

import cyclerctl
from cyclerctl.plan import Plan
from cyclerctl.store import RunInfo, Store, models
from cyclerctl.store.records import utcnow

STALE_S = 30.0


def _age_heartbeat(store: Store, daemon: str, seconds: float) -> None:
    daemons = models.daemons
    with store.engine.begin() as connection:
        connection.execute(
            update(daemons)
            .where(daemons.c.name == daemon)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def _claimed(store: Store, plan: Plan, channel: str, daemon: str) -> RunInfo:
    store.submit_run(plan, operator="o", channel=channel)
    run = store.claim_next([channel], daemon)
    assert run is not None
    return run


def test_heartbeat_inserts_then_refreshes(store: Store) -> None:
    assert store.daemons() == []
    store.heartbeat("rig-1", host="lab-pc", pid=100, instruments=["bio1"], channels=["c1", "c2"])
    (first,) = store.daemons()
    assert (first.name, first.host, first.pid, first.version) == (
        "rig-1",
        "lab-pc",
        100,
        cyclerctl.__version__,
    )
    assert (first.instruments, first.channels) == (("bio1",), ("c1", "c2"))
    assert first.started_at == first.heartbeat_at and first.heartbeat_at.tzinfo is not None
    assert not first.is_stale(STALE_S)
    json.dumps(first.as_dict())

    store.heartbeat("rig-1", host="lab-pc", pid=100, instruments=["bio1", "bio2"])
    (again,) = store.daemons()
    assert again.started_at == first.started_at  # the same process
    assert again.heartbeat_at >= first.heartbeat_at
    assert (again.instruments, again.channels) == (("bio1", "bio2"), ())

    store.heartbeat("rig-1", host="lab-pc", pid=200)  # restarted
    (restarted,) = store.daemons()
    assert restarted.pid == 200 and restarted.started_at > first.started_at

    store.heartbeat("a-rig", host="other", pid=1)
    assert [d.name for d in store.daemons()] == ["a-rig", "rig-1"]
    _age_heartbeat(store, "a-rig", 120)
    assert store.daemons()[0].is_stale(STALE_S)


def test_orphaned_runs(store: Store, plan: Plan) -> None:
    for name in ("me", "alive", "stale"):
        store.heartbeat(name, host="h", pid=1)
    mine = _claimed(store, plan, "ch1", "me")
    alive = _claimed(store, plan, "ch2", "alive")
    stale = _claimed(store, plan, "ch3", "stale")
    missing = _claimed(store, plan, "ch4", "never-sent-a-heartbeat")
    paused = _claimed(store, plan, "ch5", "stale")
    store.set_status(paused.id, "paused")
    ended = _claimed(store, plan, "ch6", "stale")
    store.set_status(ended.id, "completed")
    store.create_run(plan, operator="o", instrument={}, channel="ch7")  # foreground: no daemon
    store.submit_run(plan, operator="o", channel="ch8")  # queued: nobody's yet
    _age_heartbeat(store, "stale", 2 * STALE_S)

    orphans = store.orphaned_runs("me", stale_after_s=STALE_S)
    assert [r.id for r in orphans] == [mine.id, stale.id, missing.id, paused.id]
    assert alive.id not in {r.id for r in orphans}
    only = store.orphaned_runs("me", stale_after_s=STALE_S, channels=["ch3", "ch5"])
    assert [r.id for r in only] == [stale.id, paused.id]
    # with a longer patience the stale daemon is still alive
    assert [r.id for r in store.orphaned_runs("me", stale_after_s=1e6)] == [mine.id, missing.id]


def test_adopt(store: Store, plan: Plan) -> None:
    store.heartbeat("old", host="h", pid=1)
    store.heartbeat("new", host="h", pid=2)
    run = _claimed(store, plan, "ch1", "old")
    assert not store.adopt(run.id, "new", stale_after_s=STALE_S)  # old is alive
    assert store.events(run.id) == []

    _age_heartbeat(store, "old", 2 * STALE_S)
    assert store.adopt(run.id, "new", stale_after_s=STALE_S)
    adopted = store.get_run(run.id)
    assert adopted is not None and (adopted.daemon, adopted.status) == ("new", "running")
    (event,) = store.events(run.id)
    assert (event.kind, event.severity, dict(event.data)) == (
        "adopted",
        "warning",
        {"from": "old", "to": "new"},
    )
    assert not store.adopt(run.id, "third", stale_after_s=STALE_S)  # new is alive
    assert store.adopt(run.id, "new", stale_after_s=STALE_S)  # its own, after a restart
    assert len(store.events(run.id)) == 1  # no change of owner, no event
    assert store.orphaned_runs("third", stale_after_s=STALE_S) == []

    store.set_status(run.id, "completed")
    _age_heartbeat(store, "new", 2 * STALE_S)
    assert not store.adopt(run.id, "third", stale_after_s=STALE_S)  # ended: nothing to adopt
    assert not store.adopt(run.id + 100, "third", stale_after_s=STALE_S)


def test_only_one_daemon_adopts(store_url: str, plan: Plan) -> None:
    stores = [Store.open(store_url) for _ in range(2)]
    try:
        first = stores[0]
        runs = [_claimed(first, plan, f"ch{i}", "dead") for i in range(10)]
        first.heartbeat("dead", host="h", pid=1)
        _age_heartbeat(first, "dead", 2 * STALE_S)
        names = [f"rescuer-{i}" for i in range(6)]
        for name in names:
            first.heartbeat(name, host="h", pid=2)
        won: dict[int, list[str]] = {run.id: [] for run in runs}
        lock = threading.Lock()
        start = threading.Barrier(len(names))

        def rescue(index: int) -> None:
            store, name = stores[index % 2], names[index]
            start.wait()
            for orphan in store.orphaned_runs(name, stale_after_s=STALE_S):
                if store.adopt(orphan.id, name, stale_after_s=STALE_S):
                    with lock:
                        won[orphan.id].append(name)

        threads = [threading.Thread(target=rescue, args=(i,)) for i in range(len(names))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60.0)
        assert {run_id: len(by) for run_id, by in won.items()} == {r.id: 1 for r in runs}
        for run in runs:
            stored = first.get_run(run.id)
            assert stored is not None and [stored.daemon] == won[run.id]
            assert len(first.events(run.id)) == 1
    finally:
        for store in stores:
            store.close()
