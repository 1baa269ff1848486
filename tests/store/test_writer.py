"""The batched writer: order, idempotence, atomic checkpoints, timed commits, errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

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
