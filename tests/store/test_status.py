"""channel_status: what `cyclerctl status` shows, from channel_latest, runs and steps only."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from cyclerctl.plan import Plan
from cyclerctl.store import StepRecord, Store

from .conftest import sample_block


def test_channel_status(store: Store, plan: Plan) -> None:
    assert store.channel_status() == []
    store.submit_run(plan, operator="alice", channel="ch1")
    running = store.claim_next(["ch1"], "rig-1")
    assert running is not None
    store.submit_run(plan, operator="alice", channel="ch1")  # waits behind it
    store.submit_run(plan, operator="alice", channel="ch1")
    idle = store.create_run(plan, operator="bob", instrument={}, channel="ch2")

    block = sample_block(1, 40, step=2)
    block["Q"] = -7.2  # C passed in the step: 2 mAh of discharge
    with store.open_writer(running.id, channel="ch1") as writer:
        writer.step_started(StepRecord(1, 0, "charge", "cc", 1, (1,), t_start=0.0))
        writer.step_started(StepRecord(2, 1, "rest", "rest", 1, (1,), t_start=3600.0))
        writer.append_samples(block)

    rows = {row["channel"]: row for row in store.channel_status()}
    assert list(rows) == ["ch1", "ch2"]
    now = rows["ch1"]
    assert (now["run_id"], now["status"], now["daemon"], now["operator"]) == (
        running.id,
        "running",
        "rig-1",
        "alice",
    )
    assert (now["protocol"], now["cell"]) == ("ncm622-cycling", "NCM622-coin-01")
    assert (now["step"], now["step_name"], now["step_kind"], now["cycle"]) == (2, "rest", "rest", 1)
    last = block[-1]
    assert (now["t"], now["V"], now["I"]) == (float(last["t"]), float(last["V"]), float(last["I"]))
    assert now["T"] == pytest.approx(float(last["T"]))
    assert now["Q"] == -7.2 and now["capacity_Ah"] == pytest.approx(2e-3)
    assert now["estimated_duration_s"] == 8400.0
    assert now["started_at"] == running.started_at and now["updated_at"].tzinfo is not None
    assert now["queued"] == 2

    waiting = rows["ch2"]
    assert (waiting["run_id"], waiting["status"], waiting["daemon"]) == (idle.id, "running", None)
    assert (waiting["step"], waiting["step_name"], waiting["V"], waiting["capacity_Ah"]) == (
        None,
        None,
        None,
        None,
    )
    assert waiting["queued"] == 0

    store.set_status(running.id, "completed")
    assert store.channel_status()[0]["status"] == "completed"


def test_channel_status_never_reads_samples(store: Store, plan: Plan) -> None:
    run = store.create_run(plan, operator="o", instrument={}, channel="ch1")
    with store.open_writer(run.id, channel="ch1") as writer:
        writer.append_samples(sample_block(1, 10))
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert len(store.channel_status()) == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert statements and not any("samples" in sql for sql in statements)


def test_a_late_batch_does_not_take_the_channel_back(store: Store, plan: Plan) -> None:
    old = store.create_run(plan, operator="o", instrument={}, channel="ch1")
    writer = store.open_writer(old.id, channel="ch1", flush_interval_s=3600)
    try:
        writer.append_samples(sample_block(1, 5))
        writer.flush()
        store.set_status(old.id, "stopped", end_reason="operator")
        new = store.create_run(plan, operator="o", instrument={}, channel="ch1")
        writer.append_samples(sample_block(6, 5))  # committed after the new run started
    finally:
        writer.close()
    (row,) = store.channel_status()
    assert (row["run_id"], row["status"], row["V"]) == (new.id, "running", None)
    assert len(store.samples(old.id)) == 10  # the data itself is kept
