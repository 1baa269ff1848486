"""The batched writer: order, idempotence, atomic checkpoints, timed commits, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import event

from cyclerctl.plan import Plan
from cyclerctl.store import (
    IMPEDANCE_ROW_DTYPE,
    Checkpoint,
    EventRecord,
    RunInfo,
    StepRecord,
    Store,
)
from cyclerctl.store.writer import WriterError

from .conftest import sample_block

DEADLINE_S = 20.0  # generous: CI machines are slow; nothing here asserts speed


def _checkpoint(last_seq: int, step: int = 1) -> Checkpoint:
    return Checkpoint(
        step=step,
        plan_index=0,
        loop_counters=(1,),
        cycle=1,
        step_elapsed_s=last_seq * 0.1,
        step_charge_C=last_seq * 1e-5,
        step_t_start=0.0,
        last_seq=last_seq,
    )


def test_samples_round_trip_in_order(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    block = sample_block(1, 500, seed=1)
    buffer = block.copy()
    with store.open_writer(run.id, channel="ch1") as writer:
        writer.append_samples(buffer[:300])
        writer.append_samples(buffer[300:])
        buffer[:] = 0  # the caller may reuse its buffer at once
    stored = store.samples(run.id)
    assert stored.dtype == block.dtype
    np.testing.assert_array_equal(stored["seq"], np.arange(1, 501))
    for name in block.dtype.names or ():
        np.testing.assert_array_equal(stored[name], block[name])  # NaN T comes back NaN
    assert store.samples(run.id + 1).shape == (0,)
    assert (store.last_seq(run.id), store.last_seq(run.id + 1)) == (500, 0)


def test_replayed_seqs_duplicate_nothing(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    with store.open_writer(run.id, channel="ch1") as writer:
        writer.append_samples(sample_block(1, 100))
        writer.flush()
        writer.append_samples(sample_block(1, 100))  # the same batch again, after a commit
        writer.append_samples(sample_block(51, 100))  # overlapping, in the same batch
    assert store.count("samples") == 150
    np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 151))


def test_checkpoint_commits_with_its_samples(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    writer = store.open_writer(run.id, channel="ch1", flush_interval_s=3600, max_rows=10**6)
    try:
        writer.step_started(StepRecord(1, 0, "charge", "cc", 1, (1,), t_start=0.0, first_seq=1))
        writer.append_samples(sample_block(1, 250))
        writer.checkpoint(_checkpoint(250))
        # nothing is visible before the commit, neither samples nor checkpoint
        assert store.count("samples") == 0 and store.checkpoint(run.id) is None
        writer.flush()
        checkpoint = store.checkpoint(run.id)
        assert checkpoint is not None
        expected = _checkpoint(250)
        assert replace(checkpoint, updated_at=expected.updated_at) == expected
        assert checkpoint.last_seq == int(store.samples(run.id)["seq"].max()) == 250
        assert checkpoint.loop_counters == (1,)
        assert Checkpoint(1, 0, [2, 3], 1, 0.0, 0.0, 0.0, 0).loop_counters == (2, 3)
        assert store.steps(run.id)[0].first_seq == 1
    finally:
        writer.close()


def test_commits_on_time_without_flush(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    with store.open_writer(run.id, channel="ch1", flush_interval_s=0.2) as writer:
        writer.append_samples(sample_block(1, 10))
        deadline = time.monotonic() + DEADLINE_S
        while store.count("samples") < 10:
            assert time.monotonic() < deadline, "no commit without flush"
            time.sleep(0.02)
        assert writer.error is None


def test_max_rows_commits_without_flush(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    with store.open_writer(run.id, channel="ch1", flush_interval_s=3600, max_rows=100) as w:
        w.append_samples(sample_block(1, 150))
        deadline = time.monotonic() + DEADLINE_S
        while store.count("samples") < 150:
            assert time.monotonic() < deadline, "max_rows did not trigger a commit"
            time.sleep(0.02)


def test_writer_error_surfaces(store: Store) -> None:
    writer = store.open_writer(999, channel="ch1")  # no such run: the foreign key refuses
    writer.append_samples(sample_block(1, 10))
    with pytest.raises(WriterError, match="run 999") as caught:
        writer.flush(timeout=DEADLINE_S)
    assert "foreign key" in str(caught.value.__cause__).lower()
    assert writer.error is caught.value.__cause__
    with pytest.raises(WriterError):
        writer.append_samples(sample_block(11, 10))
    with pytest.raises(WriterError):
        writer.close()
    assert store.count("samples") == 0


def test_wrong_dtype_is_refused_at_once(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    with (
        store.open_writer(run.id, channel="ch1") as writer,
        pytest.raises(TypeError, match="fields"),
    ):
        writer.append_samples(np.zeros(3, dtype=[("t", "f8"), ("V", "f8")]))
    with pytest.raises(RuntimeError, match="closed"):
        writer.append_samples(sample_block(1, 1))


def test_steps_events_impedance_and_channel_latest(
    store: Store, new_run: Callable[..., RunInfo]
) -> None:
    run = new_run()
    other = new_run(channel="ch2")
    impedance = np.zeros(20, dtype=IMPEDANCE_ROW_DTYPE)
    impedance["seq"] = np.arange(1, 21)
    impedance["step"] = 2
    impedance["f"] = np.logspace(5, -1, 20)
    impedance["Zre"] = 10.0
    impedance["Zim"] = -np.linspace(0, 5, 20)
    impedance["V_dc"] = 3.7
    impedance["T"] = np.nan
    impedance["t"] = 60.0 + np.arange(20)
    first = StepRecord(1, 0, "charge", "cc", 1, (1,), t_start=0.0, first_seq=1)
    with store.open_writer(run.id, channel="ch1") as writer:
        writer.step_started(first)
        writer.append_samples(sample_block(1, 50))
        writer.flush()
        assert store.steps(run.id) == [first]
        ended = StepRecord(
            1, 0, "charge", "cc", 1, (1,), t_start=0.0, t_end=4.9,
            end_reason="limit:voltage", charge_Ah=1.4e-7, charge_Wh=5e-7, first_seq=1,
            last_seq=50,
        )  # fmt: skip
        writer.step_ended(ended)
        writer.step_started(StepRecord(2, 1, "eis", "eis", 1, (1,), t_start=4.9))
        writer.event(EventRecord("step_end", "charge ended", t=4.9, data={"reason": "V"}))
        writer.append_impedance(impedance)
        last = sample_block(51, 1, step=2)
        last["T"] = 300.0
        writer.append_samples(last)
    assert [s.step for s in store.steps(run.id)] == [1, 2]
    assert store.steps(run.id)[0] == ended
    assert [e.kind for e in store.events(run.id)] == ["step_end"]
    stored = store.impedance(run.id)
    for name in impedance.dtype.names or ():
        np.testing.assert_array_equal(stored[name], impedance[name])

    latest = {row["channel"]: row for row in store.channel_latest()}
    assert latest["ch2"]["run_id"] == other.id and latest["ch2"]["V"] is None
    row = latest["ch1"]
    assert (row["run_id"], row["step"], row["status"]) == (run.id, 2, "running")
    assert (row["t"], row["V"], row["T"]) == (float(last["t"][0]), float(last["V"][0]), 300.0)


def test_two_channels_write_at_once(store: Store, new_run: Callable[..., RunInfo]) -> None:
    runs = [new_run(channel=f"ch{i}") for i in range(3)]
    writers = [store.open_writer(r.id, channel=r.channel, flush_interval_s=0.05) for r in runs]
    try:
        for start in range(1, 2001, 100):
            for i, writer in enumerate(writers):
                writer.append_samples(sample_block(start, 100, seed=i))
                writer.checkpoint(_checkpoint(start + 99))
    finally:
        for writer in writers:
            writer.close()
    for r in runs:
        assert len(store.samples(r.id)) == 2000
        checkpoint = store.checkpoint(r.id)
        assert checkpoint is not None and checkpoint.last_seq == 2000


def test_store_close_commits_open_writers(store_url: str, plan: Plan) -> None:
    store = Store.open(store_url)
    run = store.create_run(plan, operator="tester", instrument={}, channel="ch9")
    store.open_writer(run.id, channel="ch9", flush_interval_s=3600).append_samples(
        sample_block(1, 5)
    )
    store.close()
    reopened = Store.open(store_url)
    try:
        assert reopened.count("samples") == 5
    finally:
        reopened.close()


def test_hundred_thousand_rows(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    block = sample_block(1, 100_000, seed=7)
    with store.open_writer(run.id, channel="ch1") as writer:
        for start in range(0, len(block), 512):  # blocks as a driver delivers them
            writer.append_samples(block[start : start + 512])
        writer.checkpoint(_checkpoint(100_000))
    stored = store.samples(run.id)
    assert len(stored) == 100_000 == store.count("samples") == store.last_seq(run.id)
    np.testing.assert_array_equal(stored["V"], block["V"])


# -- one writer thread and one connection for every run -----------------------------------


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("store-writer")]


def test_many_runs_share_one_thread_and_one_transaction(
    store: Store, new_run: Callable[..., RunInfo]
) -> None:
    runs = [new_run(channel=f"ch{i}") for i in range(40)]
    before = set(_writer_threads())  # other stores' writers in this process stay out of it
    writers = [
        store.open_writer(r.id, channel=r.channel, flush_interval_s=3600, max_rows=10**6)
        for r in runs
    ]
    assert len(set(_writer_threads()) - before) <= 1  # 40 runs, still one thread
    assert len(_writer_threads()) >= 1
    commits: list[int] = []
    event.listen(store.shared_writer().engine, "commit", lambda _c: commits.append(1))
    try:
        for i, writer in enumerate(writers):
            writer.append_samples(sample_block(1, 25, seed=i))
            writer.checkpoint(_checkpoint(25))
        assert store.count("samples") == 0  # nothing is due yet
        writers[7].flush(timeout=DEADLINE_S)  # one run asks: every run's rows go with it
        assert len(commits) == 1
        assert store.count("samples") == 40 * 25
        assert all((store.checkpoint(r.id) or _checkpoint(0)).last_seq == 25 for r in runs)
        latest = {row["channel"]: row for row in store.channel_latest()}
        assert all(latest[r.channel]["run_id"] == r.id for r in runs)
        for writer in writers:
            writer.flush(timeout=DEADLINE_S)  # committed already: no new transaction
        assert len(commits) == 1
    finally:
        for writer in writers:
            writer.close()


def test_order_within_each_run_under_concurrent_channels(
    store: Store, new_run: Callable[..., RunInfo]
) -> None:
    """Eight channels feed the writer from eight threads; a reader watching all the while
    never sees a checkpoint ahead of the samples it covers."""
    runs = [new_run(channel=f"ch{i}") for i in range(8)]
    done = threading.Event()
    seen: list[tuple[int, int]] = []  # (checkpoint.last_seq, stored last_seq) pairs

    def channel(run: RunInfo, seed: int) -> None:
        rng = np.random.default_rng(seed)
        with store.open_writer(run.id, channel=run.channel, flush_interval_s=0.02) as writer:
            seq = 1
            while seq <= 3000:
                n = int(rng.integers(1, 60))
                writer.append_samples(sample_block(seq, n, seed=seed))
                seq += n
                writer.checkpoint(_checkpoint(seq - 1))

    def reader() -> None:
        while not done.is_set():
            for run in runs:
                checkpoint = store.checkpoint(run.id)  # read first: samples only grow
                if checkpoint is not None:
                    seen.append((checkpoint.last_seq, store.last_seq(run.id)))

    watcher = threading.Thread(target=reader)
    watcher.start()
    feeders = [threading.Thread(target=channel, args=(r, i)) for i, r in enumerate(runs)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    done.set()
    watcher.join()
    assert seen, "the reader saw no checkpoint"
    assert all(checkpoint <= stored for checkpoint, stored in seen)
    for run in runs:
        stored = store.samples(run.id)["seq"]
        assert stored[0] == 1 and len(stored) == stored[-1] >= 3000  # no hole, no duplicate
        assert (store.checkpoint(run.id) or _checkpoint(0)).last_seq == stored[-1]


def test_a_bad_run_fails_alone(store: Store, new_run: Callable[..., RunInfo]) -> None:
    """One transaction for all runs, but a block the database refuses fails only its run."""
    good = [new_run(channel=f"ch{i}") for i in range(3)]
    writers = [store.open_writer(r.id, channel=r.channel, flush_interval_s=3600) for r in good]
    bad = store.open_writer(999, channel="ch9", flush_interval_s=3600)  # no such run
    try:
        for i, writer in enumerate(writers):
            writer.append_samples(sample_block(1, 10, seed=i))
        bad.append_samples(sample_block(1, 10))
        bad.event(EventRecord("note", "never stored"))
        with pytest.raises(WriterError, match="run 999"):
            bad.flush(timeout=DEADLINE_S)
        for writer in writers:
            writer.flush(timeout=DEADLINE_S)  # the others' rows went in all the same
        assert [len(store.samples(r.id)) for r in good] == [10, 10, 10]
        # and they go on working after it
        writers[0].append_samples(sample_block(11, 5))
        writers[0].flush(timeout=DEADLINE_S)
        assert store.last_seq(good[0].id) == 15
        with pytest.raises(WriterError):
            bad.checkpoint(_checkpoint(10))
    finally:
        for writer in writers:
            writer.close()
        with pytest.raises(WriterError):
            bad.close()
    assert store.count("samples") == 35 and store.count("events") == 0


def test_closing_one_run_leaves_the_others_writing(
    store: Store, new_run: Callable[..., RunInfo]
) -> None:
    first, second = new_run(channel="ch1"), new_run(channel="ch2")
    a = store.open_writer(first.id, channel="ch1", flush_interval_s=3600)
    b = store.open_writer(second.id, channel="ch2", flush_interval_s=3600)
    a.append_samples(sample_block(1, 20))
    b.append_samples(sample_block(1, 20))
    a.close()  # commits what a queued (and b's rows ride along)
    assert a.closed and not b.closed
    with pytest.raises(RuntimeError, match="closed"):
        a.append_samples(sample_block(21, 1))
    b.append_samples(sample_block(21, 20))
    b.close()
    assert (store.last_seq(first.id), store.last_seq(second.id)) == (20, 40)
    # a new run after every handle was closed still gets a writer
    third = new_run(channel="ch3")
    with store.open_writer(third.id, channel="ch3") as c:
        c.append_samples(sample_block(1, 3))
    assert store.last_seq(third.id) == 3
