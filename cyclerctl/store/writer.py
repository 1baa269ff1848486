"""The batched writer: one thread and one connection per Store, serving every running channel.

The engine's loop must never wait on the disk, so it only hands copies of its blocks and
records to its run's :class:`RunWriter`; the Store's one :class:`SharedWriter` thread takes
what every run has pending and commits it all in ONE transaction — at least once every
``flush_interval_s`` after a run's first pending item, sooner when a run has ``max_rows``
rows pending, or on :meth:`RunWriter.flush`. Order is kept within a run: a checkpoint
commits together with, or after, every sample queued before it. 256 channels at 1 point/s
cost one commit a second, not 256.

A bad block from one run must not poison the others: when the shared transaction fails on
something other than the database being unwritable, it is retried run by run and only the
culprit's handle fails (:attr:`RunWriter.error`; from then on that handle accepts nothing
and every call re-raises it, so data is never lost silently).

When the database is unwritable (disk full, the file locked by someone else for minutes, a
PostgreSQL server restarting) the writer holds what is pending, retries with backoff, and
writes it when the database recovers — nothing dropped, nothing duplicated (rows whose seq
is stored already are skipped), each outage recorded in every affected run as a ``store``
event ("database unwritable for N s, M points held"). The points held are bounded
(``backlog_rows``): past it, ``append_samples``/``append_impedance`` raise
:class:`StoreBacklogFull` and the engine stops the run at a safe point; small records
(events, steps, checkpoints) are still accepted so the stop itself can be recorded.

With an outage journal (:mod:`cyclerctl.store.outage_journal`, ``[daemon] journal``), what
is held also survives the process: from the first failed write on, every held item and
every new one goes to the local journal file (fsynced within a second) instead of memory;
when the database is writable again — in this process or the next one — the journal is
replayed once, in order, in one transaction, before anything newer is written.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, select
from sqlalchemy import exc as sa_exc

from cyclerctl.store import models
from cyclerctl.store.batch import Batch, write_batches, write_events
from cyclerctl.store.database import SQLITE_BEGIN
from cyclerctl.store.outage_journal import JournalContents, OutageJournal
from cyclerctl.store.records import (
    IMPEDANCE_ROW_DTYPE,
    SAMPLE_ROW_DTYPE,
    Checkpoint,
    EventRecord,
    StepRecord,
)

log = logging.getLogger(__name__)

#: Rows the writer holds, for all runs together, while the database is unwritable.
DEFAULT_BACKLOG_ROWS: Final = 2_000_000
#: Retry delays while the database is unwritable: first, then doubling up to the last.
RETRY_FIRST_S: Final = 0.1
RETRY_MAX_S: Final = 5.0
#: How long closing waits for an unwritable database before giving up what it holds.
CLOSE_OUTAGE_S: Final = 30.0
#: Event kind of an outage record (``store``) and end reason of a run stopped by a full backlog.
OUTAGE_EVENT: Final = "store"
BACKLOG_FULL_REASON: Final = "store:backlog-full"


class WriterError(RuntimeError):
    """The writer failed for this run; ``__cause__`` is what it hit. Nothing after it was stored."""


class StoreBacklogFull(WriterError):
    """The database has been unwritable so long that the points held reached the bound:
    stop the run at a safe point (its data so far is held and will be written)."""


def is_unwritable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be written *now* (disk full, locked,
    connection or server gone), rather than that the data is bad: retry later."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    return isinstance(exc, sa_exc.DisconnectionError | ConnectionError | TimeoutError)


def _copy_block(block: NDArray[Any], dtype: np.dtype[Any], what: str) -> NDArray[np.void]:
    if block.dtype.names != dtype.names or block.ndim != 1:
        raise TypeError(f"{what} must be a 1-d array with fields {dtype.names}, got {block.dtype}")
    return block.astype(dtype, copy=True)  # the caller may reuse its buffer


class RunWriter:
    """One run's handle on the Store's shared writer. Use as a context manager or close()."""

    def __init__(
        self,
        shared: SharedWriter,
        run_id: int,
        *,
        channel: str,
        flush_interval_s: float = 1.0,
        max_rows: int = 20_000,
    ) -> None:
        if flush_interval_s <= 0 or max_rows <= 0:
            raise ValueError("flush_interval_s and max_rows must be positive")
        self.run_id = run_id
        self.channel = channel
        self.flush_interval_s = flush_interval_s
        self.max_rows = max_rows
        self._shared = shared
        # the fields below are guarded by shared.lock
        self._pending: list[object] = []  # items not yet taken by the thread, in order
        self._pending_rows = 0
        self._deadline: float | None = None  # commit by then (first pending + interval)
        self._queued = 0  # ticket of the newest queued item
        self._committed = 0  # every item up to this ticket is committed
        self._journalled = 0  # every item up to this ticket is in the outage journal
        self._error: BaseException | None = None
        self._closing = False

    # -- the caller's side ----------------------------------------------------------------

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def closed(self) -> bool:
        """close() was called: the writer accepts nothing more."""
        return self._closing

    @property
    def database_unwritable(self) -> bool:
        """The writer's last try to write failed because the database could not be written
        (it is holding points and retrying)."""
        return self._shared.outage_since is not None

    def append_samples(self, block: NDArray[Any]) -> None:
        """Queue a SAMPLE_ROW_DTYPE block (copied). Rows whose seq is stored already are
        skipped. StoreBacklogFull (the block is queued all the same) when the database has
        been unwritable so long that the bound on points held is reached: stop the run."""
        if len(block):
            self._put(("samples", _copy_block(block, SAMPLE_ROW_DTYPE, "samples")), bounded=True)

    def append_impedance(self, block: NDArray[Any]) -> None:
        """Queue an IMPEDANCE_ROW_DTYPE block (copied)."""
        if len(block):
            copy = _copy_block(block, IMPEDANCE_ROW_DTYPE, "impedance")
            self._put(("impedance", copy), bounded=True)

    def step_started(self, record: StepRecord) -> None:
        self._put(record)

    def step_ended(self, record: StepRecord) -> None:
        self._put(record)  # an upsert by (run_id, step), like step_started

    def event(self, record: EventRecord) -> None:
        self._put(record)

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        self._put(checkpoint)

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed (TimeoutError after ``timeout``;
        while the database is unwritable that is until it recovers)."""
        shared = self._shared
        with shared.lock:
            self._raise_if_failed()
            target = self._queued
            if self._committed >= target:
                return
            shared.request_commit()
            done = shared.lock.wait_for(
                lambda: self._committed >= target or self._error is not None or shared.stopped,
                timeout,
            )
            self._raise_if_failed()
            if not done:
                raise TimeoutError(f"writer for run {self.run_id} did not commit in {timeout} s")
            if self._committed < target:
                raise WriterError(f"writer for run {self.run_id} stopped before committing")

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued and let go of the run (the shared thread goes on)."""
        with self._shared.lock:
            self._closing = True
        try:
            self.flush(timeout)
        finally:
            if self._error is not None or self._committed >= self._queued:
                self._shared.forget(self)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _put(self, item: object, *, bounded: bool = False) -> None:
        shared = self._shared
        with shared.lock:
            self._raise_if_failed()
            if self._closing:
                raise RuntimeError(f"writer for run {self.run_id} is closed")
            rows = _rows(item)
            self._queued += 1
            if shared.journalling:  # the database is unwritable: straight to the local file
                shared.journal_item(self, item, rows)
                self._journalled = self._queued
            else:
                self._pending.append(item)
                self._pending_rows += rows
                if self._deadline is None:
                    self._deadline = time.monotonic() + self.flush_interval_s
                shared.added(rows, deadline=self._deadline, due=self._pending_rows >= self.max_rows)
            if bounded and shared.backlog_full():
                # the block is held with the rest (nothing measured is dropped); the bound
                # is overshot by at most one block per run, since the run stops now
                raise StoreBacklogFull(
                    f"run {self.run_id} on {self.channel}: the database has been unwritable "
                    f"for {shared.outage_s():.0f} s and {shared.held_rows} points are held "
                    f"(the bound is {shared.backlog_rows})"
                ) from shared.outage_cause

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriterError(
                f"writer for run {self.run_id} on {self.channel} failed: {self._error!r}"
            ) from self._error

    # -- the shared thread's side (every method with shared.lock held) --------------------

    @property
    def has_pending(self) -> bool:
        """Items queued that the thread has not taken yet."""
        return bool(self._pending)

    @property
    def waiting_for_commit(self) -> bool:
        """Items queued (taken or not) that are not committed yet."""
        return self._committed < self._queued

    def take(self) -> Taken:
        """Hand over the oldest pending items, in order: about ``max_rows`` rows (at least
        one item), so a producer that runs ahead of the disk gets transactions of that
        size, not one of everything."""
        count = rows = 0
        for item in self._pending:
            if count and rows >= self.max_rows:
                break
            count += 1
            rows += _rows(item)
        items = self._pending[:count]
        del self._pending[:count]
        self._pending_rows -= rows
        if not self._pending:
            self._deadline = None
        return Taken(items, newest=self._queued - len(self._pending), more=bool(self._pending))

    def spill(self, journal: OutageJournal) -> int:
        """Move every pending item into the journal, in order; the rows moved."""
        rows = self._pending_rows
        for item in self._pending:
            journal.append(self.run_id, self.channel, item, _rows(item))
        if self._pending:
            self._journalled = self._queued
        self._pending, self._pending_rows, self._deadline = [], 0, None
        return rows

    def committed_up_to(self, ticket: int) -> None:
        """Every item up to ``ticket`` is committed."""
        self._committed = max(self._committed, ticket)

    def fail(self, exc: BaseException) -> int:
        """The run's data cannot be stored: from now on every call raises ``exc``. What
        was pending is dropped; returns how many rows that was."""
        dropped = self._pending_rows
        self._error = exc
        self._pending, self._pending_rows, self._deadline = [], 0, None
        return dropped

    def fail_if_waiting(self, exc: BaseException) -> None:
        """The thread died of ``exc``: a handle still waiting for a commit fails with it."""
        if self._error is None and self.waiting_for_commit:
            self._error = exc


def _rows(item: object) -> int:
    """Rows an item adds: a block's length, or one for a record."""
    return len(item[1]) if isinstance(item, tuple) else 1


def _sample_rows(item: object) -> int:
    """Points (sample rows) an item holds."""
    return len(item[1]) if isinstance(item, tuple) and item[0] == "samples" else 0


@dataclass(frozen=True, slots=True)
class Taken:
    """Items a run's handle handed to the thread (:meth:`RunWriter.take`)."""

    items: list[object]
    newest: int  # ticket of the newest item taken
    more: bool  # items are left pending: they are due at once


@dataclass
class _RunBatch:
    """What the thread holds of one run: taken from its handle, not yet committed."""

    writer: RunWriter
    batch: Batch = field(default_factory=Batch)
    items: list[object] = field(default_factory=list)  # as taken, in order (for the journal)
    newest: int = 0  # ticket of the newest item in the batch
    points_held: int = 0  # sample rows held since the outage began


class SharedWriter:
    """The Store's one writer thread and connection. ``open(run_id, channel)`` a handle."""

    def __init__(
        self,
        engine: Engine,
        *,
        backlog_rows: int = DEFAULT_BACKLOG_ROWS,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        close_outage_s: float = CLOSE_OUTAGE_S,
        journal: OutageJournal | None = None,
    ) -> None:
        if backlog_rows <= 0 or retry_first_s <= 0 or retry_max_s < retry_first_s:
            raise ValueError("backlog_rows and retry delays must be positive, first ≤ max")
        self.engine = engine  # owned: disposed when the thread ends
        self.backlog_rows = backlog_rows
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.close_outage_s = close_outage_s
        self.lock = threading.Condition()
        # guarded by lock
        self._writers: dict[int, RunWriter] = {}  # by id(): handles with work or open
        self._due = False  # commit now: a flush, or a run reached max_rows
        self._next_deadline: float | None = None
        self._stopping = False
        self.stopped = False
        self.held_rows = 0  # rows queued or taken and not committed, all runs
        self.outage_since: float | None = None  # monotonic; None: the database is writable
        self.outage_cause: BaseException | None = None
        self._connection: Connection | None = None
        self.journal = journal
        #: held items go to the journal, not memory (guarded by lock)
        self.journalling = False
        self._journal_rows = 0  # rows in the journal, not yet replayed
        #: a journal left by an earlier process is replayed before anything else is written
        self._replay_due = journal is not None and journal.has_data()
        self.replayed = threading.Event()  # that replay is done (set at once if none)
        if not self._replay_due:
            self.replayed.set()
        self.last_replay: dict[str, object] = {}  # what the last replay wrote, for logs/tests
        self._thread = threading.Thread(target=self._main, name="store-writer", daemon=True)
        self._thread.start()
        _OPEN_SHARED.add(self)

    # -- handles (any thread) -------------------------------------------------------------

    def open(
        self, run_id: int, *, channel: str, flush_interval_s: float = 1.0, max_rows: int = 20_000
    ) -> RunWriter:
        writer = RunWriter(
            self, run_id, channel=channel, flush_interval_s=flush_interval_s, max_rows=max_rows
        )
        with self.lock:
            if self._stopping:
                raise RuntimeError("the store's writer is closed")
            self._writers[id(writer)] = writer
        return writer

    def forget(self, writer: RunWriter) -> None:
        with self.lock:
            self._writers.pop(id(writer), None)

    def backlog_full(self) -> bool:  # with lock held
        return self.outage_since is not None and self.held_rows >= self.backlog_rows

    def outage_s(self) -> float:
        since = self.outage_since
        return 0.0 if since is None else time.monotonic() - since

    def added(self, rows: int, *, deadline: float, due: bool) -> None:  # with lock held
        """A handle queued ``rows``; it wants them committed by ``deadline``, or at once
        (``due``: it holds ``max_rows``) unless the database is unwritable."""
        self.held_rows += rows
        wake = False
        if due and self.outage_since is None:
            self._due = wake = True
        if self._next_deadline is None or deadline < self._next_deadline:
            self._next_deadline = deadline
            wake = True
        if wake:
            self.lock.notify_all()

    def journal_item(self, writer: RunWriter, item: object, rows: int) -> None:  # lock held
        assert self.journal is not None
        self.journal.append(writer.run_id, writer.channel, item, rows)
        self.held_rows += rows
        self._journal_rows += rows

    def request_commit(self) -> None:  # with lock held
        self._due = True
        self.lock.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Commit what every handle queued, stop the thread, release the connection.

        TimeoutError after ``timeout``. While the database is unwritable, closing waits for
        it ``close_outage_s`` at most (a process told to stop must stop), then gives up
        with a WriterError saying how many points were lost.
        """
        with self.lock:
            self._stopping = True
            self.lock.notify_all()
        began = time.monotonic()
        while self._thread.is_alive():
            waited = time.monotonic() - began
            if timeout is not None and waited >= timeout:
                raise TimeoutError(f"the store's writer did not stop in {timeout} s")
            if self.outage_since is not None and waited >= self.close_outage_s:
                _OPEN_SHARED.discard(self)
                raise WriterError(
                    f"closing with the database unwritable for {self.outage_s():.0f} s: "
                    f"{self.held_rows} rows held are lost"
                ) from self.outage_cause
            self._thread.join(0.2 if timeout is None else min(0.2, timeout - waited))
        _OPEN_SHARED.discard(self)

    # -- the thread -----------------------------------------------------------------------

    def _main(self) -> None:
        held: dict[int, _RunBatch] = {}
        delay = self.retry_first_s
        try:
            while True:
                stopping = self._wait(delay, replay=self._replay_due)
                if self._replay_due or self.journalling:
                    if not self._replay():
                        delay = min(delay * 2, self.retry_max_s)
                        if stopping:  # what is held is on disk: the next start replays it
                            break
                        continue
                    delay = self.retry_first_s
                self._take(held)
                if held:
                    if self._commit(held):
                        delay = self.retry_first_s
                    else:
                        # unwritable: retry later, also when closing (close(timeout) is
                        # the caller's bound on how long to wait for the database)
                        delay = min(delay * 2, self.retry_max_s)
                        if stopping and self.journalling:
                            break
                        continue
                if stopping:
                    with self.lock:
                        if not any(w.has_pending for w in self._writers.values()):
                            break
        except BaseException as exc:  # a bug here: every handle learns of it
            log.exception("store writer thread failed")
            with self.lock:
                for writer in self._writers.values():
                    writer.fail_if_waiting(exc)
        finally:
            self._drop_connection()
            if self.journal is not None:
                if self.journalling or self._replay_due:
                    log.warning(
                        "stopping with the database unwritable: %d rows are in the outage "
                        "journal %s, replayed at the next start",
                        self._journal_rows,
                        self.journal.path,
                    )
                self.journal.close()
            with self.lock:
                self.stopped = True
                self.lock.notify_all()
            self.engine.dispose()

    def _wait(self, delay: float, *, replay: bool = False) -> bool:
        """Sleep until there is something to commit (while the database is unwritable:
        until the next retry, ``delay`` from now; a journal to replay: not at all); True
        when closing."""
        if replay and self.outage_since is None:
            return self._stopping
        with self.lock:
            retry_at = None if self.outage_since is None else time.monotonic() + delay
            while True:
                now = time.monotonic()
                if retry_at is not None:
                    if self._stopping and not self._writers_waiting():
                        return True
                    if now >= retry_at:
                        return self._stopping
                    self.lock.wait(retry_at - now)
                    continue
                if self._stopping:
                    return True
                if self._due:
                    return False
                if self._next_deadline is not None and now >= self._next_deadline:
                    return False
                timeout = None if self._next_deadline is None else self._next_deadline - now
                self.lock.wait(timeout)

    def _writers_waiting(self) -> bool:  # with lock held
        return any(w.waiting_for_commit for w in self._writers.values())

    def _take(self, held: dict[int, _RunBatch]) -> None:
        """Move the handles' pending items, in order, into the thread's per-run batches:
        about ``max_rows`` rows of each run at a time (:meth:`RunWriter.take`; not one
        transaction of everything, a list of millions of tuples to build). What is left is
        due at once."""
        with self.lock:
            self._due = False
            self._next_deadline = None
            for key, writer in self._writers.items():
                if not writer.has_pending:
                    continue
                entry = held.get(key)
                if entry is None:
                    entry = held[key] = _RunBatch(writer)
                taken = writer.take()
                for item in taken.items:
                    entry.batch.add(item)
                    entry.items.append(item)
                    if self.outage_since is not None:
                        entry.points_held += _sample_rows(item)
                entry.newest = taken.newest
                if taken.more:
                    self._due = True  # the rest goes in the next transaction, at once

    def _commit(self, held: dict[int, _RunBatch]) -> bool:
        """Write every held run's batch in one transaction; False: the database is
        unwritable (everything stays held). A failure of another kind is retried run by
        run, so only the culprit's handle fails."""
        try:
            self._write(list(held.values()))
        except Exception as exc:
            if is_unwritable(exc):
                self._unwritable(held, exc)
                return False
            log.debug("one transaction for %d runs failed, retrying run by run: %r", len(held), exc)
            self._drop_connection()
            for key, entry in list(held.items()):
                try:
                    self._write([entry])
                except Exception as one:
                    if is_unwritable(one):
                        self._unwritable(held, one)
                        return False
                    self._drop_connection()
                    self._fail(entry, one)
                else:
                    self._committed(entry)
                del held[key]
        else:
            self._committed(*held.values())
            held.clear()
        self._recovered()
        return True

    def _write(self, entries: list[_RunBatch]) -> None:
        """One transaction: every entry's batch and, after an outage, its outage event."""
        outages: list[tuple[int, EventRecord]] = []
        if self.outage_since is not None:
            seconds = time.monotonic() - self.outage_since
            cause = f"{type(self.outage_cause).__name__}: {self.outage_cause}"[:500]
            for entry in entries:
                held = entry.points_held
                message = f"database unwritable for {seconds:.0f} s, {held} points held"
                data = {"unwritable_s": seconds, "points_held": entry.points_held, "cause": cause}
                record = EventRecord(OUTAGE_EVENT, message, severity="warning", data=data)
                outages.append((entry.writer.run_id, record))
        connection = self._connect()
        with connection.begin():
            write_batches(
                connection, [(e.writer.run_id, e.writer.channel, e.batch) for e in entries]
            )
            if outages:
                write_events(connection, outages)

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.invalidated:
            self._drop_connection()
            connection = self.engine.connect()
            connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            self._connection = connection
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()  # the driver may be in any state: do not reuse it
            with contextlib.suppress(Exception):
                connection.close()

    def _unwritable(self, held: dict[int, _RunBatch], exc: BaseException) -> None:
        self._drop_connection()  # a fresh connection for the next try (a restarted server)
        if self.journal is not None:
            with self.lock:
                self._spill(held)
        with self.lock:
            if self.outage_since is None:
                self.outage_since = time.monotonic()
                log.warning("database unwritable, holding points: %s", exc)
                for entry in held.values():
                    entry.points_held = sum(len(block) for block in entry.batch.samples)
            self.outage_cause = exc
            self.lock.notify_all()  # appends may now be refused

    def _spill(self, held: dict[int, _RunBatch]) -> None:  # with lock held
        """The database is unwritable: everything held — taken by the thread (older), then
        still pending in the handles — goes to the journal, each run's items in order;
        from now on new items go there directly."""
        assert self.journal is not None
        rows = 0
        for entry in held.values():
            writer = entry.writer
            for item in entry.items:
                self.journal.append(writer.run_id, writer.channel, item, _rows(item))
            writer._journalled = max(writer._journalled, entry.newest)
            rows += entry.batch.rows
        held.clear()
        for writer in self._writers.values():
            rows += writer.spill(self.journal)
        self._journal_rows += rows
        self.journalling = True

    def _replay(self) -> bool:
        """Write the journal to the database in one transaction (each run's items in
        order, with its receipt event); False: still unwritable (what arrived meanwhile
        joins the journal, after what is in it)."""
        assert self.journal is not None
        with self.lock:
            self.journalling = False  # new items are newer than the journal: memory again
        contents = self.journal.read()
        if not contents.items:  # nothing was held: the next commit tells if it is writable
            self.journal.clear()
            with self.lock:
                self._replay_due = False
            self.replayed.set()
            return True
        try:
            applied = self._write_journal(contents)
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            self._drop_connection()
            with self.lock:
                if self.outage_since is None:
                    self.outage_since = time.monotonic()
                    log.warning("database unwritable, the outage journal is kept: %s", exc)
                self.outage_cause = exc
                self._spill({})
                self.lock.notify_all()
            return False
        self.journal.clear()
        with self.lock:
            for writer in self._writers.values():
                writer.committed_up_to(writer._journalled)
            self.held_rows = max(0, self.held_rows - self._journal_rows)
            self._journal_rows = 0
            self._replay_due = False
            self.last_replay = applied
            self.lock.notify_all()
        if contents.items:
            log.warning(
                "outage journal %s replayed: %s points for %s run(s) (%s already stored)",
                contents.journal_id, applied["points"], applied["runs"], applied["skipped_runs"],
            )  # fmt: skip
        self._recovered()
        self.replayed.set()
        return True

    def _write_journal(self, contents: JournalContents) -> dict[str, object]:
        """One transaction: every run's journalled items as one batch, and its receipt."""
        runs = contents.by_run()
        journal_id = contents.journal_id
        if not runs:
            return {"journal": journal_id, "runs": 0, "points": 0, "skipped_runs": 0}
        if self.outage_since is not None:
            seconds = time.monotonic() - self.outage_since
        elif contents.created_at is not None:
            seconds = max(0.0, time.time() - contents.created_at)
        else:
            seconds = 0.0
        if self.outage_cause is not None:
            cause = f"{type(self.outage_cause).__name__}: {self.outage_cause}"[:500]
        else:  # replayed at start: the process that saw the outage is gone
            cause = "unknown: journalled by an earlier process"
        connection = self._connect()
        with connection.begin():
            events = models.events
            receipts = connection.execute(
                select(events.c.run_id, events.c.data).where(
                    events.c.run_id.in_(list(runs)), events.c.kind == OUTAGE_EVENT
                )
            )
            done = {r.run_id for r in receipts if (r.data or {}).get("journal") == journal_id}
            batches, receipts_out, points = [], [], 0
            for run_id, (channel, items) in runs.items():
                if run_id in done:
                    continue
                batch = Batch()
                for item in items:
                    batch.add(item)
                count = sum(_sample_rows(item) for item in items)
                points += count
                batches.append((run_id, channel, batch))
                message = (
                    f"database unwritable for {seconds:.0f} s, {count} points held in the "
                    f"outage journal and replayed"
                )
                data = {"unwritable_s": seconds, "points_held": count, "journal": journal_id,
                        "journal_path": str(self.journal.path if self.journal else ""),
                        "cause": cause}  # fmt: skip
                receipts_out.append(
                    (run_id, EventRecord(OUTAGE_EVENT, message, severity="warning", data=data))
                )
            write_batches(connection, batches)
            if receipts_out:
                write_events(connection, receipts_out)
        return {
            "journal": journal_id,
            "runs": len(batches),
            "points": points,
            "skipped_runs": len(done),
        }

    def _committed(self, *entries: _RunBatch) -> None:
        with self.lock:  # one wake-up for every waiter, however many runs committed
            for entry in entries:
                self.held_rows -= entry.batch.rows
                entry.writer.committed_up_to(entry.newest)
            self.lock.notify_all()

    def _recovered(self) -> None:
        with self.lock:
            if self.outage_since is not None:
                log.warning(
                    "database writable again after %.0f s", time.monotonic() - self.outage_since
                )
            self.outage_since = None
            self.outage_cause = None

    def _fail(self, entry: _RunBatch, exc: BaseException) -> None:
        writer = entry.writer
        log.error("run %s: writer failed: %r", writer.run_id, exc)
        with self.lock:
            self.held_rows -= entry.batch.rows + writer.fail(exc)
            self.lock.notify_all()


_OPEN_SHARED: weakref.WeakSet[SharedWriter] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    # A program that forgot close() still commits what it queued before the interpreter
    # kills the (daemon) writer thread.
    for shared in list(_OPEN_SHARED):
        with contextlib.suppress(Exception):
            shared.close(timeout=30.0)
