"""Requests to a running channel from other threads: pause, resume, stop, detach.

The engine acts on them only at safe points of its loop (between two reads of the
channel), never in the middle of handling a block: a request sets a flag and wakes the
loop, the loop decides when it is safe.

- pause: stop the channel (it rests at open circuit), checkpoint, wait for resume;
- resume: re-enter the same step with its elapsed time and charge;
- stop: end the current step with reason ``operator``; the run ends ``stopped``;
- detach: the daemon is shutting down. The run is left as it is in the database (still
  running, or paused) for the next daemon to resume; a host-sequenced channel is brought
  to rest first, one that runs the step on board is left running it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from cyclerctl.engine.scheduler import COALESCE_S, Task, current_task
from cyclerctl.store import EventRecord

log = logging.getLogger(__name__)

#: Told of each event the run records, on the thread driving the run (the daemon: its
#: instrument's scheduler, shared with the other channels): it must return at once
#: (the daemon's notifications only queue it). An exception from it is logged, never raised.
EventObserver = Callable[[EventRecord], None]


class RunControl:
    """Thread-safe flags the engine polls, and a wake-up for its sleeps.

    It also carries the run's ``observer`` out: whoever drives the run (the daemon) hears
    of its events as they are recorded, without the engine knowing who listens.
    """

    def __init__(
        self, stop: threading.Event | None = None, *, observer: EventObserver | None = None
    ) -> None:
        self.observer = observer
        self.stop_event = stop or threading.Event()
        self._changed = threading.Condition()
        self._pause = False
        self._detach = False
        self._generation = 0  # counts requests: a sleep ends on a new one, not an old one
        #: monotonic time the engine last went round its loop (None: waiting while paused,
        #: or not started): a watchdog tells a hung driver call from a quiet channel by it
        self.alive_at: float | None = None
        self.requested_by: dict[str, str] = {}  # request kind → who asked (for events)
        self._parked: set[Task] = set()  # scheduler tasks waiting on a request (issue 20)

    # -- requests (any thread) ------------------------------------------------------------

    def pause(self, by: str = "") -> str:
        """Ask for a pause; returns what happened, for the command's acknowledgement."""
        with self._changed:
            if self.stop_event.is_set():
                return "ignored: the run is stopping"
            if self._pause:
                return "ok: already pausing or paused"
            self._pause = True
            self.requested_by["pause"] = by
            self._notify()
        return "ok"

    def resume(self, by: str = "") -> str:
        with self._changed:
            if not self._pause:
                return "ok: not paused"
            self._pause = False
            self.requested_by["resume"] = by
            self._notify()
        return "ok"

    def stop(self, by: str = "") -> str:
        with self._changed:
            self.requested_by["stop"] = by
            self.stop_event.set()
            self._notify()
        return "ok"

    def said_by(self, what: str, kind: str) -> str:
        """Who asked, for events: ``said_by("stopped", "stop")`` gives "stopped by ana"."""
        who = self.requested_by.get(kind)
        return f"{what} by {who}" if who else f"{what} by the operator"

    def detach(self) -> None:
        with self._changed:
            self._detach = True
            self._notify()

    # -- the engine's side ----------------------------------------------------------------

    def recorded(self, event: EventRecord) -> None:
        """The run recorded ``event``: tell the observer, if any (its failure is only logged)."""
        if self.observer is None:
            return
        try:
            self.observer(event)
        except Exception as exc:
            log.error("the run's event observer failed: %s: %s", type(exc).__name__, exc)

    @property
    def pause_requested(self) -> bool:
        return self._pause

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    @property
    def detach_requested(self) -> bool:
        return self._detach

    def beat(self) -> None:
        """The engine is going round its loop (not stuck in a driver call)."""
        self.alive_at = time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a new request cuts it short. On a scheduler's task the
        task is parked on the scheduler's timers instead of blocking the thread."""
        task = current_task()
        with self._changed:
            seen = self._generation
            if task is None:
                self._changed.wait_for(lambda: self._generation != seen, seconds)
                return
        deadline = time.monotonic() + seconds
        # the scheduler runs a task up to COALESCE_S early, with the others then due
        while self._generation == seen and time.monotonic() < deadline - COALESCE_S:
            self._park(task, deadline)

    def wait_while_paused(self) -> None:
        """Block while paused; returns on resume, stop or detach."""
        self.alive_at = None  # waiting on purpose: nothing for a watchdog to see
        task = current_task()
        if task is None:
            with self._changed:
                self._changed.wait_for(self._unpaused)
        else:
            while not self._unpaused():
                self._park(task, None)
        self.beat()

    def _unpaused(self) -> bool:
        return not self._pause or self.stop_event.is_set() or self._detach

    def _park(self, task: Task, deadline: float | None) -> None:
        """Park ``task`` until ``deadline`` or the next request, whichever comes first."""
        with self._changed:
            self._parked.add(task)
        try:
            task.park(deadline)
        finally:
            with self._changed:
                self._parked.discard(task)

    def _notify(self) -> None:  # with self._changed held
        self._generation += 1
        self._changed.notify_all()
        for task in self._parked:
            task.wake()
