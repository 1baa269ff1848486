"""The batched writer: one thread and one connection per running channel.

The engine's loop must never wait on the disk, so it only queues copies of its blocks and
records; this thread commits them in one transaction per batch — when ``max_rows`` rows are
pending, or ``flush_interval_s`` after the first pending item (so at least once a second
while data flows), or on :meth:`RunWriter.flush`. Order is kept: a checkpoint commits
together with, or after, every sample queued before it.

A failure on the thread is kept in :attr:`RunWriter.error`; from then on the writer accepts
nothing and every call re-raises it, so data is never lost silently.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
import time
import weakref
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine

from cyclerctl.store.batch import Batch
from cyclerctl.store.database import SQLITE_BEGIN
from cyclerctl.store.records import (
    IMPEDANCE_ROW_DTYPE,
    SAMPLE_ROW_DTYPE,
    Checkpoint,
    EventRecord,
    StepRecord,
)


class WriterError(RuntimeError):
    """The writer thread failed; ``__cause__`` is what it hit. Nothing after it was stored."""


_FLUSH: Final = object()
_CLOSE: Final = object()
_OPEN_WRITERS: weakref.WeakSet[RunWriter] = weakref.WeakSet()


def _copy_block(block: NDArray[Any], dtype: np.dtype[Any], what: str) -> NDArray[np.void]:
    if block.dtype.names != dtype.names or block.ndim != 1:
        raise TypeError(f"{what} must be a 1-d array with fields {dtype.names}, got {block.dtype}")
    return block.astype(dtype, copy=True)  # the caller may reuse its buffer


class RunWriter:
    """Writes one run's data from a background thread. Use as a context manager or close()."""

    def __init__(
        self,
        engine: Engine,
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
        self._engine = engine  # owned: disposed when the thread ends
        self._queue: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._queued = 0  # ticket of the newest queued item
        self._committed = 0  # every item up to this ticket is committed
        self._error: BaseException | None = None
        self._closing = False
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name=f"store-writer-{channel}-run{run_id}", daemon=True
        )
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # -- the caller's side ----------------------------------------------------------------

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def closed(self) -> bool:
        """close() was called: the writer accepts nothing more."""
        return self._closing

    def append_samples(self, block: NDArray[Any]) -> None:
        """Queue a SAMPLE_ROW_DTYPE block (copied). Rows whose seq is stored already are skipped."""
        if len(block):
            self._put(("samples", _copy_block(block, SAMPLE_ROW_DTYPE, "samples")))

    def append_impedance(self, block: NDArray[Any]) -> None:
        """Queue an IMPEDANCE_ROW_DTYPE block (copied)."""
        if len(block):
            self._put(("impedance", _copy_block(block, IMPEDANCE_ROW_DTYPE, "impedance")))

    def step_started(self, record: StepRecord) -> None:
        self._put(record)

    def step_ended(self, record: StepRecord) -> None:
        self._put(record)  # an upsert by (run_id, step), like step_started

    def event(self, record: EventRecord) -> None:
        self._put(record)

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        self._put(checkpoint)

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed (TimeoutError after ``timeout``)."""
        with self._lock:
            self._raise_if_failed()
            target = self._queued
            if self._committed >= target:
                return
            self._queue.put((0, _FLUSH))
            done = self._lock.wait_for(
                lambda: self._committed >= target or self._error is not None or self._stopped,
                timeout,
            )
            self._raise_if_failed()
            if not done:
                raise TimeoutError(f"writer for run {self.run_id} did not commit in {timeout} s")
            if self._committed < target:
                raise WriterError(f"writer for run {self.run_id} stopped before committing")

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, stop the thread, release the connection."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._queue.put((0, _CLOSE))
        self._thread.join(timeout)
        _OPEN_WRITERS.discard(self)
        with self._lock:
            self._raise_if_failed()
        if self._thread.is_alive():
            raise TimeoutError(f"writer for run {self.run_id} did not stop in {timeout} s")

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _put(self, item: object) -> None:
        with self._lock:
            self._raise_if_failed()
            if self._closing:
                raise RuntimeError(f"writer for run {self.run_id} is closed")
            self._queued += 1
            self._queue.put((self._queued, item))

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriterError(
                f"writer for run {self.run_id} on {self.channel} failed: {self._error!r}"
            ) from self._error

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                self._loop(connection)
        except BaseException as exc:  # kept and re-raised on the caller's side
            with self._lock:
                self._error = exc
        finally:
            with self._lock:
                self._stopped = True
                self._lock.notify_all()
            self._engine.dispose()

    def _loop(self, connection: Connection) -> None:
        batch = Batch()
        newest = 0  # ticket of the newest item taken off the queue
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ticket, item = self._queue.get(timeout=timeout)
            except queue.Empty:
                ticket, item = 0, _FLUSH  # flush_interval_s has passed
            if item is _FLUSH or item is _CLOSE:
                self._commit(connection, batch, newest)
                batch, deadline = Batch(), None
                if item is _CLOSE:
                    return
                continue
            batch.add(item)
            newest = ticket
            if deadline is None:
                deadline = time.monotonic() + self.flush_interval_s
            if batch.rows >= self.max_rows or time.monotonic() >= deadline:
                self._commit(connection, batch, newest)
                batch, deadline = Batch(), None

    def _commit(self, connection: Connection, batch: Batch, newest: int) -> None:
        if batch:
            with connection.begin():
                batch.write(connection, self.run_id, self.channel)
        with self._lock:
            self._committed = newest
            self._lock.notify_all()


@atexit.register
def _close_open_writers() -> None:
    # A program that forgot close() still commits what it queued before the interpreter
    # kills the (daemon) writer threads.
    for writer in list(_OPEN_WRITERS):
        # an error stays on writer.error: nobody is left to raise it to
        with contextlib.suppress(Exception):
            writer.close(timeout=30.0)
