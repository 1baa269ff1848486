"""The outage journal: what the writer holds while the database is unwritable, on local disk.

Without it, points held in memory during an outage die with the process (kill -9, a
crash, a power cut). With ``[daemon] journal`` set, the store's writer appends every item
it holds — sample and impedance blocks, step rows, events, checkpoints, each with its run
and channel, in the order the run queued them — to this file from the moment the database
is found unwritable, and a thread fsyncs it at least every ``sync_interval_s`` (0.5 s).

When the database can be written again (the same process, or the next one after a
restart), the journal is replayed in ONE transaction: each run's items in order, as one
batch (samples with the checkpoint that covers them, as always), plus per run a ``store``
event that names the journal's id. That event is the replay's receipt: a run whose receipt
for this journal is in the database already is skipped, so a process that died between the
commit and emptying the file replays nothing twice (samples are idempotent by seq anyway;
events are not). Then the file is emptied.

File format (ours, local, never exchanged): frames of ``<length u32><crc32 u32><pickle>``;
the first frame is the header ``("journal", id, created_at_unix)``, then
``("item", run_id, channel, item)``. A torn last frame (the process killed mid-write) fails
its length or CRC check and ends the read: it was never acknowledged as durable. The file
is created 0600 in a folder of the user's; only this program writes it, so unpickling it
trusts no one else.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cyclerctl.host_os import sync_file, sync_folder

log = logging.getLogger(__name__)

_FRAME: Final = struct.Struct("<II")  # payload length, crc32 of the payload
SYNC_INTERVAL_S: Final = 0.5  # the issue asks for at least once a second


@dataclass
class JournalContents:
    """What a journal file holds: its id, and each run's items in the order queued."""

    journal_id: str | None = None
    created_at: float | None = None
    items: list[tuple[int, str, object]] = field(default_factory=list)
    torn_bytes: int = 0  # a partial last frame that was dropped

    def by_run(self) -> dict[int, tuple[str, list[object]]]:
        runs: dict[int, tuple[str, list[object]]] = {}
        for run_id, channel, item in self.items:
            runs.setdefault(run_id, (channel, []))[1].append(item)
        return runs


class OutageJournal:
    """An append-only local file of held writer items (see the module doc). Thread-safe:
    :meth:`append` is called with the store writer's lock held, from any thread."""

    def __init__(self, path: Path, *, sync_interval_s: float = SYNC_INTERVAL_S) -> None:
        self.path = Path(path)
        self.sync_interval_s = sync_interval_s
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._dirty = False
        self._closed = False
        self.journal_id: str | None = None
        self.appended = 0  # items appended by this process (all journals)
        self.appended_rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._syncer = threading.Thread(target=self._sync_loop, name="outage-journal", daemon=True)
        self._syncer.start()

    # -- writing -------------------------------------------------------------------------

    def append(self, run_id: int, channel: str, item: object, rows: int) -> None:
        """Write one item to the file now (into the OS's cache: a killed process keeps it;
        the sync thread puts it on the disk within ``sync_interval_s``)."""
        payload = pickle.dumps(("item", run_id, channel, item), protocol=5)
        with self._lock:
            fd = self._open()
            _write_frame(fd, payload)
            self._dirty = True
            self.appended += 1
            self.appended_rows += rows

    def _open(self) -> int:  # with self._lock held
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags, 0o600)
            if os.fstat(fd).st_size == 0:  # a new journal: its id first
                self.journal_id = uuid.uuid4().hex
                header = pickle.dumps(("journal", self.journal_id, time.time()), protocol=5)
                _write_frame(fd, header)
                sync_file(fd)
                sync_folder(self.path.parent)  # the new file itself survives a power cut
            else:
                self.journal_id = read_journal(self.path).journal_id
            self._fd = fd
        return self._fd

    def sync(self) -> None:
        """Put what was appended on the disk now."""
        with self._lock:
            if self._fd is not None and self._dirty:
                sync_file(self._fd)
                self._dirty = False

    def _sync_loop(self) -> None:
        while not self._closed:
            time.sleep(self.sync_interval_s)
            try:
                self.sync()
            except OSError as exc:  # a full local disk: say so, keep trying
                log.error("outage journal %s: cannot sync: %s", self.path, exc)

    # -- reading and emptying ------------------------------------------------------------

    def has_data(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def read(self) -> JournalContents:
        with self._lock:
            if self._fd is not None and self._dirty:
                sync_file(self._fd)
                self._dirty = False
            return read_journal(self.path)

    def clear(self) -> None:
        """Empty the file (after its replay committed): the next outage starts a new one
        with a new id."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags, 0o600)
            try:
                sync_file(fd)
            finally:
                os.close(fd)
            self.journal_id = None
            self._dirty = False

    def close(self) -> None:
        self._closed = True
        with self._lock:
            if self._fd is not None:
                if self._dirty:
                    sync_file(self._fd)
                os.close(self._fd)
                self._fd = None


#: How long the writer's SQLite connection waits for a lock held by someone else when a
#: journal is kept (others wait 10 s): until its first write gives up, what it holds is
#: in memory only, so the outage is noticed — and the journal started — within a second.
#: Our own writers hold the lock for milliseconds (WAL: readers never block it).
JOURNAL_BUSY_TIMEOUT_S: Final = 1.0


def quick_busy_timeout(engine: Any) -> None:
    """Make the writer's SQLite connections give up on a lock after
    JOURNAL_BUSY_TIMEOUT_S (after the engine's own connect hook set the long one)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _busy(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(JOURNAL_BUSY_TIMEOUT_S * 1000)}")


def _write_frame(fd: int, payload: bytes) -> None:
    frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
    view = memoryview(frame)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_journal(path: Path) -> JournalContents:
    """Every whole frame of the file at ``path`` (none if it is missing)."""
    contents = JournalContents()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return contents
    offset = 0
    while offset < len(data):
        if len(data) - offset < _FRAME.size:
            break
        length, crc = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break
        record = pickle.loads(payload)
        if record[0] == "journal":
            contents.journal_id, contents.created_at = record[1], record[2]
        elif record[0] == "item":
            contents.items.append((int(record[1]), str(record[2]), record[3]))
        offset = start + length
    contents.torn_bytes = len(data) - offset
    if contents.torn_bytes:
        log.warning("outage journal %s: a torn last frame (%d bytes) dropped", path,
                    contents.torn_bytes)  # fmt: skip
    return contents
