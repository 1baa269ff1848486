"""The outage journal (issue 18 part 2): held points on local disk, replayed exactly once.

Real parts: a SQLite file locked by another connection's ``BEGIN EXCLUSIVE`` (as in
tests/faults/test_database_faults.py), the journal a real file in tmp_path. The daemon
killed with -9 during an outage is in tests/faults/test_journal_kill.py.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from cyclerctl.store import Checkpoint, EventRecord, Store
from cyclerctl.store.outage_journal import OutageJournal, read_journal
from cyclerctl.store.writer import OUTAGE_EVENT
from tests.faults.test_database_faults import HOLD
from tests.store.conftest import sample_block

DEADLINE_S = 60.0


def _checkpoint(last_seq: int) -> Checkpoint:
    return Checkpoint(
        step=1, plan_index=0, loop_counters=(), cycle=1, step_elapsed_s=last_seq * 0.1,
        step_charge_C=0.0, step_t_start=0.0, last_seq=last_seq,
    )  # fmt: skip


def _wait(what: str, check: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def plan(tmp_path: Path) -> Any:
    from cyclerctl.protocol import load_plan

    path = tmp_path / "hold.toml"
    path.write_text(HOLD)
    return load_plan(str(path), "ncm622-coin")


def _store(db: Path, journal: Path) -> Store:
    store = Store.open(f"sqlite:///{db}", retry_max_s=0.2)
    store.use_journal(journal)
    shared = store.shared_writer()

    @event.listens_for(shared.engine, "connect")
    def _busy(dbapi_connection: Any, _record: Any) -> None:  # a lock is noticed in 50 ms
        dbapi_connection.execute("PRAGMA busy_timeout = 50")

    return store


def _receipts(store: Store, run_id: int) -> list[EventRecord]:
    return [e for e in store.events(run_id) if e.kind == OUTAGE_EVENT and "journal" in e.data]


def test_points_held_during_an_outage_go_to_the_journal_and_in_once(
    tmp_path: Path, plan: Any
) -> None:
    db, journal_path = tmp_path / "runs.db", tmp_path / "lab.journal"
    store = _store(db, journal_path)
    try:
        run = store.create_run(plan, operator="t", instrument={}, channel="ch1")
        writer = store.open_writer(run.id, channel="ch1", flush_interval_s=0.05)
        writer.append_samples(sample_block(1, 100))
        writer.checkpoint(_checkpoint(100))
        writer.flush(timeout=DEADLINE_S)
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            writer.append_samples(sample_block(101, 400, seed=1))
            writer.checkpoint(_checkpoint(500))
            _wait("the outage", lambda: store.shared_writer().journalling)
            writer.append_samples(sample_block(501, 500, seed=2))  # straight to the file
            writer.checkpoint(_checkpoint(1000))
            held = read_journal(journal_path)
            seqs = np.concatenate([i[1]["seq"] for _, _, i in held.items if isinstance(i, tuple)])
            np.testing.assert_array_equal(seqs, np.arange(101, 1001))  # in order, once
            assert held.journal_id is not None
        finally:
            lock.execute("COMMIT")
            lock.close()
        writer.flush(timeout=DEADLINE_S)  # replayed from the journal, then committed
        writer.close()
        np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 1001))
        checkpoint = store.checkpoint(run.id)
        assert checkpoint is not None and checkpoint.last_seq == 1000
        (receipt,) = _receipts(store, run.id)
        assert receipt.data["points_held"] == 900
        assert receipt.data["journal"] == held.journal_id
        assert journal_path.stat().st_size == 0  # emptied after the replay
    finally:
        store.close()


def test_a_journal_left_by_a_dead_process_is_replayed_once_at_start(
    tmp_path: Path, plan: Any
) -> None:
    db, journal_path = tmp_path / "runs.db", tmp_path / "lab.journal"
    store = Store.open(f"sqlite:///{db}")
    try:
        run = store.create_run(plan, operator="t", instrument={}, channel="ch1")
    finally:
        store.close()
    # what a process killed during an outage leaves: items, and a torn last frame
    journal = OutageJournal(journal_path)
    journal.append(run.id, "ch1", ("samples", sample_block(1, 300)), 300)
    journal.append(run.id, "ch1", _checkpoint(300), 1)
    journal.append(run.id, "ch1", EventRecord("note", "said during the outage"), 1)
    journal.close()
    left = journal_path.read_bytes()
    with journal_path.open("ab") as file:
        file.write(b"\x40\x00\x00\x00torn")  # killed in the middle of a frame
    assert read_journal(journal_path).torn_bytes == 8

    for attempt in range(2):  # the second: died after the commit, before emptying the file
        store = Store.open(f"sqlite:///{db}")
        store.use_journal(journal_path)
        try:
            replayed = store.replay_journal(timeout=DEADLINE_S)
            assert replayed["points"] == (300 if attempt == 0 else 0)
            assert replayed["skipped_runs"] == attempt
            np.testing.assert_array_equal(store.samples(run.id)["seq"], np.arange(1, 301))
            checkpoint = store.checkpoint(run.id)
            assert checkpoint is not None and checkpoint.last_seq == 300
            notes = [e for e in store.events(run.id) if e.kind == "note"]
            assert len(notes) == 1 and len(_receipts(store, run.id)) == 1  # nothing twice
            assert journal_path.stat().st_size == 0
        finally:
            store.close()
        journal_path.write_bytes(left)


def test_the_default_journal_is_beside_the_config_or_in_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cyclerctl.config import load_config

    path = tmp_path / "lab.toml"
    path.write_text('[daemon]\nname = "pc 1"\n')
    assert load_config(str(path)).journal_path() == tmp_path / "lab.pc_1.journal"
    path.write_text('[daemon]\nname = "pc1"\njournal = "j/pc1.bin"\n')
    assert load_config(str(path)).journal_path() == tmp_path / "j" / "pc1.bin"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = load_config(None)
    assert config.journal_path().parent in (tmp_path / "state" / "cyclerctl",
                                            Path.cwd() if config.path else None)  # fmt: skip
