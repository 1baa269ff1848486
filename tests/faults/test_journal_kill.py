"""A daemon killed with -9 during a database outage loses nothing (issue 18 part 2).

Real parts: a daemon subprocess driving a simulated channel in real time × 20, its SQLite
file locked by this process (``BEGIN EXCLUSIVE`` on a second connection, as in
test_database_faults.py), its outage journal a file in tmp_path. The journal is read from
the file the killed process left; the restarted daemon replays it before it resumes the run.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.store.outage_journal import read_journal
from cyclerctl.store.writer import OUTAGE_EVENT
from tests.daemon.conftest import DaemonProcess, Lab, sim, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9")


def _journalled_seqs(path: Path) -> np.ndarray:
    items = read_journal(path).items
    blocks = [item[1]["seq"] for _, _, item in items if isinstance(item, tuple)]
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)


@pytest.mark.slow
def test_a_daemon_killed_during_an_outage_loses_no_point_and_writes_none_twice(
    lab: Lab, daemons: Callable[[Path], DaemonProcess]
) -> None:
    journal = lab.folder / "lab.journal"
    lab.daemon_extra = f'journal = "{journal.name}"'
    lab.instruments = [sim("sim", 1, speed=20.0)]
    first = daemons(lab.config())
    run_id = lab.submit("sim:1", cycles=1)
    store = lab.store()
    try:
        wait_for("points committed", lambda: store.last_seq(run_id) >= 5, timeout=60)
        lock = sqlite3.connect(lab.folder / "lab.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # nobody else can write from now on
        try:
            committed = store.last_seq(run_id)  # readers still read (WAL)
            # the daemon's writer gives up on the lock after its busy timeout (1 s with a
            # journal), then journals what it holds and every new point
            wait_for("points in the journal", lambda: len(_journalled_seqs(journal)) >= 20,
                     timeout=90)  # fmt: skip
            first.kill9()
            journalled = _journalled_seqs(journal)
        finally:
            lock.execute("COMMIT")
            lock.close()
        measured = int(journalled.max())
        # everything measured before the kill is committed or journalled, in order, once
        np.testing.assert_array_equal(journalled, np.arange(committed + 1, measured + 1))
        assert store.last_seq(run_id) == committed

        second = daemons(lab.config())
        wait_for("the run completed", lambda: lab.run(run_id).status == "completed", timeout=180)
        second.terminate()
        seq = store.samples(run_id)["seq"]
        np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))  # none lost, none twice
        assert len(seq) > measured
        receipts = [
            e for e in store.events(run_id) if e.kind == OUTAGE_EVENT and "journal" in e.data
        ]
        (receipt,) = receipts
        replayed = int(receipt.data["points_held"])
        assert replayed == len(journalled)
        said = re.search(r"replayed: (\d+) point", second.text())
        assert said is not None and int(said.group(1)) == replayed
        assert journal.stat().st_size == 0
        print(
            f"journal counts: measured before the kill {measured}, committed before the kill "
            f"{committed}, journalled {len(journalled)}, replayed {replayed}, final {len(seq)} "
            f"(seq 1..{seq[-1]}, contiguous)"
        )
    finally:
        store.close()
