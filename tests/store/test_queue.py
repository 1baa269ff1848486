"""The run queue: submit, the order runs are claimed in, and exclusive claims under load."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import update

from cyclerctl.plan import Plan
from cyclerctl.store import ACTIVE_STATUSES, RunInfo, Store, models

from .conftest import INSTRUMENT

OVERRIDES = {"cycles": "3", "rate": "0.2 C"}


def _backdate_queue(store: Store, run_id: int, seconds: float) -> None:
    runs = models.runs
    run = store.get_run(run_id)
    assert run is not None and run.queued_at is not None
    with store.engine.begin() as connection:
        connection.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(queued_at=run.queued_at - timedelta(seconds=seconds))
        )


def test_submit_queues_the_run_and_records_who_asked(store: Store, plan: Plan) -> None:
    run = store.submit_run(
        plan, operator="alice", channel="ch3", overrides=OVERRIDES, host="lab-pc-2"
    )
    assert (run.status, run.channel, run.operator) == ("queued", "ch3", "alice")
    assert run.queued_at is not None and run.queued_at.tzinfo is not None
    assert run.started_at is None and run.daemon is None and run.instrument == {}
    assert run.overrides == OVERRIDES
    assert run.parameters == {"cycles": 2, "rate": "0.1 C"}  # resolved values kept apart
    assert store.get_run(run.id) == run
    assert run.as_dict()["overrides"] == OVERRIDES
    assert isinstance(run.as_dict()["queued_at"], str)

    (submit,) = store.commands(run.id)
    assert (submit.kind, submit.operator, submit.host, submit.run_id) == (
        "submit",
        "alice",
        "lab-pc-2",
        run.id,
    )
    assert submit.pending and submit.issued_at.tzinfo is not None
    assert store.channel_latest() == []  # waiting does not hold the channel
    assert store.claim_next([], "d1") is None


def test_create_run_keeps_overrides_and_daemon(store: Store, plan: Plan) -> None:
    run = store.create_run(
        plan,
        operator="bob",
        instrument=INSTRUMENT,
        channel="ch1",
        overrides={"j": "0.5 mA/cm^2"},
        daemon="rig-1",
    )
    assert run.overrides == {"j": "0.5 mA/cm^2"} and run.daemon == "rig-1"
    assert run.queued_at is None
    assert store.create_run(plan, operator="b", instrument={}, channel="ch2").overrides == {}
    queued = store.create_run(plan, operator="b", instrument={}, channel="ch3", status="queued")
    assert queued.queued_at is not None  # claimable like a submitted run
    assert (claimed := store.claim_next(["ch2", "ch3"], "d1")) is not None
    assert claimed.id == queued.id


def test_claim_starts_the_run_for_the_daemon(store: Store, plan: Plan) -> None:
    run = store.submit_run(plan, operator="alice", channel="ch1")
    claimed = store.claim_next(["ch1", "ch2"], "rig-1")
    assert claimed is not None and claimed.id == run.id
    assert (claimed.status, claimed.daemon) == ("running", "rig-1")
    assert claimed.started_at is not None and claimed.queued_at == run.queued_at
    assert store.get_run(run.id) == claimed
    (submit,) = store.commands(run.id)
    assert (submit.acknowledged_by, submit.result) == ("rig-1", "ok")
    assert submit.acknowledged_at is not None
    (latest,) = store.channel_latest()
    assert (latest["channel"], latest["run_id"], latest["status"]) == ("ch1", run.id, "running")
    assert store.claim_next(["ch1", "ch2"], "rig-1") is None  # nothing else queued

    store.set_instrument(run.id, INSTRUMENT)
    again = store.get_run(run.id)
    assert again is not None and again.instrument == INSTRUMENT
    with pytest.raises(KeyError):
        store.set_instrument(run.id + 100, INSTRUMENT)


def test_queue_order_is_queued_at_then_id(store: Store, plan: Plan) -> None:
    first = store.submit_run(plan, operator="o", channel="a")
    second = store.submit_run(plan, operator="o", channel="b")
    third = store.submit_run(plan, operator="o", channel="c")
    _backdate_queue(store, third.id, 60)  # queued earliest, though submitted last
    order = [store.claim_next(["a", "b", "c"], "d") for _ in range(3)]
    assert [r.id for r in order if r] == [third.id, first.id, second.id]


def test_claim_only_on_the_daemons_channels(store: Store, plan: Plan) -> None:
    elsewhere = store.submit_run(plan, operator="o", channel="other-rig/ch1")
    mine = store.submit_run(plan, operator="o", channel="ch2")
    claimed = store.claim_next(["ch1", "ch2"], "d")
    assert claimed is not None and claimed.id == mine.id
    assert store.claim_next(["ch1", "ch2"], "d") is None
    waiting = store.get_run(elsewhere.id)
    assert waiting is not None and waiting.status == "queued"


def test_a_busy_channel_is_skipped_not_waited_for(store: Store, plan: Plan) -> None:
    one = store.submit_run(plan, operator="o", channel="ch1")
    two = store.submit_run(plan, operator="o", channel="ch1")
    three = store.submit_run(plan, operator="o", channel="ch2")
    assert (c := store.claim_next(["ch1", "ch2"], "d")) is not None and c.id == one.id
    # ch1 is busy: its next run waits, the younger run on the free ch2 goes first
    assert (c := store.claim_next(["ch1", "ch2"], "d")) is not None and c.id == three.id
    assert store.claim_next(["ch1", "ch2"], "d") is None
    store.set_status(one.id, "paused")  # paused still holds the channel
    assert store.claim_next(["ch1"], "d") is None
    store.set_status(one.id, "completed")
    assert (c := store.claim_next(["ch1", "ch2"], "d")) is not None and c.id == two.id


def test_a_channel_running_outside_the_queue_is_busy(store: Store, plan: Plan) -> None:
    foreground = store.create_run(plan, operator="o", instrument={}, channel="ch1")
    queued = store.submit_run(plan, operator="o", channel="ch1")
    assert store.claim_next(["ch1"], "d") is None
    store.set_status(foreground.id, "failed", end_reason="error")
    assert (c := store.claim_next(["ch1"], "d")) is not None and c.id == queued.id


def test_claims_are_exclusive_under_contention(store_url: str, plan: Plan) -> None:
    """4 threads on each of 2 Store objects (8 would-be daemons) drain 50 runs on 5
    channels: each run is claimed exactly once, and no channel ever has two active runs."""
    channels = [f"ch{i}" for i in range(5)]
    total = 50
    stores = [Store.open(store_url) for _ in range(2)]
    try:
        submitted = {
            stores[0].submit_run(plan, operator="o", channel=channels[i % 5]).id
            for i in range(total)
        }
        claims: dict[int, list[str]] = defaultdict(list)
        holder: dict[str, int | None] = dict.fromkeys(channels)
        problems: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(8)
        deadline = time.monotonic() + 120.0

        def daemon(index: int) -> None:
            try:
                claim_until_done(stores[index % 2], f"daemon-{index}")
            except BaseException as exc:  # a thread's exception would only be a warning
                with lock:
                    problems.append(f"daemon-{index}: {exc!r}")

        def claim_until_done(store: Store, name: str) -> None:
            start.wait()
            while time.monotonic() < deadline:
                with lock:
                    if len(claims) >= total:
                        return
                run = store.claim_next(channels, name)
                if run is None:
                    time.sleep(0.002)  # every free channel is taken: poll again
                    continue
                with lock:
                    claims[run.id].append(name)
                    if holder[run.channel] is not None:
                        problems.append(f"{run.channel}: {run.id} while {holder[run.channel]}")
                    holder[run.channel] = run.id
                active = [
                    r.id
                    for r in store.list_runs()
                    if r.channel == run.channel and r.status in ACTIVE_STATUSES
                ]
                if active != [run.id]:
                    with lock:
                        problems.append(f"{run.channel} active runs {active} after claim")
                time.sleep(0.001)  # hold the channel a moment
                with lock:
                    holder[run.channel] = None
                store.set_status(run.id, "completed")

        threads = [threading.Thread(target=daemon, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=150.0)
        assert not any(t.is_alive() for t in threads), "claimers hung"

        assert problems == []
        assert set(claims) == submitted
        assert {run_id: len(by) for run_id, by in claims.items() if len(by) != 1} == {}
        runs = [r for r in stores[1].list_runs() if r.id in submitted]
        assert {r.status for r in runs} == {"completed"}
        assert {r.daemon for r in runs} <= {f"daemon-{i}" for i in range(8)}
        # the stored history agrees: on each channel, a run starts after the last one ended
        by_channel: dict[str, list[RunInfo]] = defaultdict(list)
        for run in runs:
            by_channel[run.channel].append(run)
        for channel_runs in by_channel.values():
            channel_runs.sort(key=lambda r: (r.started_at, r.id))
            for before, after in itertools.pairwise(channel_runs):
                assert before.ended_at is not None and after.started_at is not None
                assert after.started_at >= before.ended_at, (before.id, after.id)
            # and within a channel, in the order they were queued
            assert [r.id for r in channel_runs] == sorted(r.id for r in channel_runs)
        assert all(c.acknowledged_by is not None for c in stores[1].commands())
    finally:
        for store in stores:
            store.close()
