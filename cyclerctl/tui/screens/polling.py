"""A screen that reads the database from a worker thread at a fixed rate (≤ POLL_HZ).

``fetch`` runs in the thread (it may block on the database), ``show`` on the UI thread
with what it returned. A tick is skipped while the previous read is still going, so a
slow database lowers the refresh rate instead of piling reads up; a screen that is not
on top does not read at all.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.screen import Screen
from textual.timer import Timer

#: the most reads per second any screen makes (DESIGN.md: the UI subscribes at ≤ 10 Hz)
POLL_HZ = 10.0


#: consecutive failed reads before the screen tells the operator
FAILURES_BEFORE_ALARM = 3
#: a read still unanswered after this many seconds is shown as a problem while it waits
#: (a locked SQLite file holds a read for the whole busy timeout, 10 s, before it fails)
STALLED_AFTER_S = 5.0


class PollingScreen(Screen[None]):
    #: seconds between reads; clamped to 1 / POLL_HZ
    poll_interval: float = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._reading = False
        self._read_started = 0.0
        self.reads_shown = 0  # completed poll→show cycles (tests wait on it)
        self._failures_in_a_row = 0
        self._poll_timer: Timer | None = None
        #: why the last reads failed (shown to the operator), None while reads succeed
        self.problem: str | None = None

    def on_mount(self) -> None:
        every = max(self.poll_interval, 1.0 / POLL_HZ)
        self._poll_timer = self.set_interval(every, self.refresh_data)
        self.refresh_data()

    @property
    def reading(self) -> bool:
        """A read is in flight (its data not shown yet)."""
        return self._reading

    def stop_polling(self) -> None:
        """No more timed reads (``refresh_data`` still reads once): for the benchmark,
        which starts every read itself."""
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        if not self.is_current:
            return
        if self._reading:
            waited = time.monotonic() - self._read_started
            if waited > STALLED_AFTER_S and self.problem is None:
                self._show(f"no answer for {waited:.0f} s (locked?); still trying")
            return
        self._reading = True
        self._read_started = time.monotonic()
        self._read()

    @work(thread=True, group="poll")
    def _read(self) -> None:
        try:
            data = self.fetch()
        except Exception as exc:  # a locked or vanished database must not kill the UI
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._arrived, data)

    def _arrived(self, data: Any) -> None:
        self._reading = False
        self._failures_in_a_row = 0
        if self.problem is not None:
            self.problem = None
            self.show_problem(None)
        self.show(data)
        self.reads_shown += 1

    def _failed(self, exc: Exception) -> None:
        # one failed read (a writer holding the lock a moment) is retried at the next poll;
        # the operator is told when reads keep failing, and the screen keeps polling
        self._reading = False
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= FAILURES_BEFORE_ALARM:
            self._show(describe_failure(exc))

    def _show(self, problem: str) -> None:
        if problem != self.problem:
            self.problem = problem
            self.notify(f"database: {problem}", severity="error", timeout=5)
            self.show_problem(problem)

    def show_problem(self, problem: str | None) -> None:
        """Show (or, with None, clear) why the database cannot be read; the values on
        screen are then the last ones read."""

    def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError


def describe_failure(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement and help link."""
    original = getattr(exc, "orig", None)  # the DBAPI error behind a SQLAlchemy one
    text = str(original if original is not None else exc) or type(exc).__name__
    return text.strip().splitlines()[0]
