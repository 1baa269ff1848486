"""Operator commands through the database: issue, pending for the owner, acknowledge, audit."""

from __future__ import annotations

import json

import pytest

from cyclerctl.plan import Plan
from cyclerctl.store import RunInfo, Store


def _running(store: Store, plan: Plan, channel: str = "ch1", daemon: str = "rig-1") -> RunInfo:
    store.submit_run(plan, operator="alice", channel=channel, host="lab-pc")
    run = store.claim_next([channel], daemon)
    assert run is not None
    return run


def test_issue_pending_acknowledge(store: Store, plan: Plan) -> None:
    run = _running(store, plan)
    pause = store.issue_command(run.id, "pause", operator="bob", host="tui-1")
    stop = store.issue_command(run.id, "stop", operator="carol")
    pending = store.pending_commands("rig-1")
    assert [(c.id, c.kind, c.operator, c.host) for c in pending] == [
        (pause, "pause", "bob", "tui-1"),
        (stop, "stop", "carol", ""),
    ]
    assert all(c.pending and c.run_id == run.id for c in pending)
    assert store.pending_commands("rig-2") == []  # not its run

    store.acknowledge(pause, daemon="rig-1")
    store.acknowledge(stop, daemon="rig-1", result="not running: already stopping")
    assert store.pending_commands("rig-1") == []
    store.acknowledge(pause, daemon="rig-1", result="again")  # the first answer stands

    trail = store.commands(run.id)
    assert [(c.kind, c.result, c.acknowledged_by) for c in trail] == [
        ("submit", "ok", "rig-1"),
        ("pause", "ok", "rig-1"),
        ("stop", "not running: already stopping", "rig-1"),
    ]
    assert all(c.acknowledged_at is not None and c.acknowledged_at.tzinfo for c in trail)
    assert trail[1].acknowledged_at is not None and trail[1].acknowledged_at >= trail[1].issued_at
    json.dumps([c.as_dict() for c in trail])
    with pytest.raises(KeyError):
        store.acknowledge(10_000, daemon="rig-1")


def test_pending_is_per_owner_and_oldest_first(store: Store, plan: Plan) -> None:
    one = _running(store, plan, "ch1", "rig-1")
    two = _running(store, plan, "ch2", "rig-2")
    ids = [
        store.issue_command(two.id, "pause", operator="o"),
        store.issue_command(one.id, "pause", operator="o"),
        store.issue_command(two.id, "resume", operator="o"),
        store.issue_command(one.id, "stop", operator="o"),
    ]
    assert [c.id for c in store.pending_commands("rig-1")] == [ids[1], ids[3]]
    assert [c.id for c in store.pending_commands("rig-2")] == [ids[0], ids[2]]
    assert [c.id for c in store.commands()] == sorted(c.id for c in store.commands())
    assert len(store.commands()) == 6  # two submits + four
    assert [c.kind for c in store.commands(two.id)] == ["submit", "pause", "resume"]


def test_commands_follow_the_run_to_its_new_owner(store: Store, plan: Plan) -> None:
    run = _running(store, plan, daemon="rig-1")
    command = store.issue_command(run.id, "stop", operator="o")
    # rig-1 never sent a heartbeat: it counts as gone, rig-2 takes the run over
    store.heartbeat("rig-2", host="h", pid=1)
    assert store.adopt(run.id, "rig-2", stale_after_s=30.0)
    assert store.pending_commands("rig-1") == []
    assert [c.id for c in store.pending_commands("rig-2")] == [command]


def test_refused_commands(store: Store, plan: Plan) -> None:
    run = _running(store, plan)
    with pytest.raises(ValueError, match="pause, resume, stop"):
        store.issue_command(run.id, "submit", operator="o")
    with pytest.raises(ValueError, match="pause, resume, stop"):
        store.issue_command(run.id, "abort", operator="o")
    with pytest.raises(KeyError):
        store.issue_command(run.id + 100, "stop", operator="o")
    store.set_status(run.id, "completed")
    with pytest.raises(ValueError, match="has ended"):
        store.issue_command(run.id, "stop", operator="o")
    assert [c.kind for c in store.commands(run.id)] == ["submit"]


def test_stop_takes_a_queued_run_out_of_the_queue(store: Store, plan: Plan) -> None:
    run = store.submit_run(plan, operator="alice", channel="ch1")
    with pytest.raises(ValueError, match="queued"):
        store.issue_command(run.id, "pause", operator="bob")
    command = store.issue_command(run.id, "stop", operator="bob", host="pc")
    stopped = store.get_run(run.id)
    assert stopped is not None
    assert (stopped.status, stopped.end_reason, stopped.is_completed) == (
        "stopped",
        "operator",
        True,
    )
    assert stopped.ended_at is not None and stopped.started_at is None
    assert store.claim_next(["ch1"], "rig-1") is None
    submit, stop = store.commands(run.id)
    assert stop.id == command and (stop.result, stop.acknowledged_by) == ("ok", None)
    assert stop.acknowledged_at is not None
    assert submit.pending  # never claimed: the audit shows nobody picked it up
    assert store.pending_commands("rig-1") == []
