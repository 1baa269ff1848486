"""A screen that reads the database from a worker thread at a fixed rate (≤ POLL_HZ).

``fetch`` runs in the thread (it may block on the database), ``show`` on the UI thread
with what it returned. A tick is skipped while the previous read is still going, so a
slow database lowers the refresh rate instead of piling reads up; a screen that is not
on top does not read at all.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.screen import Screen

#: the most reads per second any screen makes (DESIGN.md: the UI subscribes at ≤ 10 Hz)
POLL_HZ = 10.0


#: consecutive failed reads before the screen tells the operator
FAILURES_BEFORE_ALARM = 3


class PollingScreen(Screen[None]):
    #: seconds between reads; clamped to 1 / POLL_HZ
    poll_interval: float = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._reading = False
        self.reads_shown = 0  # completed poll→show cycles (tests wait on it)
        self._failures_in_a_row = 0

    def on_mount(self) -> None:
        self.set_interval(max(self.poll_interval, 1.0 / POLL_HZ), self.refresh_data)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        if self._reading or not self.is_current:
            return
        self._reading = True
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
        self.show(data)
        self.reads_shown += 1

    def _failed(self, exc: Exception) -> None:
        # one failed read (a writer holding the lock a moment) is retried at the next poll;
        # the operator is told when reads keep failing
        self._reading = False
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= FAILURES_BEFORE_ALARM:
            self.notify(f"database: {exc}", severity="error", timeout=3)

    def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError
