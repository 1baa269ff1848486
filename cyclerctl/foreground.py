"""A run driven in this process (``cyclerctl run``, ``cyclerctl resume``): its owner row.

The process registers as the run's owner (``run@<host>:<pid>``, see
:mod:`cyclerctl.store.owners`) and heartbeats from a thread while it drives the run, so a
process that dies without a word (kill -9, a power cut) leaves a run that ``runs``,
``status`` and the TUI show as orphaned and that ``cyclerctl resume`` or a daemon can take
over. A clean end removes the row. A heartbeat the database refuses (it is unwritable) is
skipped: the run's own data is the writer's business.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator

from cyclerctl.store import Store
from cyclerctl.store.owners import foreground_owner

log = logging.getLogger(__name__)


@contextlib.contextmanager
def owning(store: Store, channel: str, *, every_s: float = 2.0) -> Iterator[str]:
    """Register this process as a run owner for ``channel`` and keep its heartbeat going;
    yields the owner name to record on the run."""
    name = foreground_owner()
    host, pid = socket.gethostname(), os.getpid()

    def beat() -> None:
        store.heartbeat(name, host=host, pid=pid, channels=[channel])

    beat()
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every_s):
            try:
                beat()
            except Exception as exc:  # unwritable for now: the next beat tries again
                log.debug("heartbeat of %s failed: %s", name, exc)

    thread = threading.Thread(target=loop, name="owner-heartbeat", daemon=True)
    thread.start()
    try:
        yield name
    finally:
        done.set()
        thread.join(5.0)
        with contextlib.suppress(Exception):
            store.forget_daemon(name)
