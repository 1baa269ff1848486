"""The notifier: its own thread and queue, bursts grouped, failed sends retried with backoff.

:meth:`Notifier.notify` only puts the notice on a bounded queue and returns: whoever calls
it (the daemon's loop, a run's thread) never waits for a mail server. The thread

1. gathers a burst: after the first notice, every notice that follows within ``quiet_s``
   of the previous one (at most ``max_group_s`` in all) joins it, so a power cut that
   stops 64 channels is one message listing them, not 64;
2. gives each target the notices it asked for (``on``, ``channels``): one message;
3. retries a failed message with backoff (``retry_first_s``, doubling up to
   ``retry_max_s``), at most ``attempts`` tries, each failure logged with the target's
   secrets as ``***``; then gives up, logged. A target that is down costs a log line per
   try, nothing else.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from cyclerctl.notify.message import Notice, compose
from cyclerctl.notify.send import Sender
from cyclerctl.notify.targets import NotifySecretError, NotifyTarget, redact

#: a notice waits this long for others of the same burst (after the latest one)
QUIET_S = 3.0
#: a burst is sent at the latest this long after its first notice
MAX_GROUP_S = 15.0
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0
ATTEMPTS = 6
QUEUE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Sent:
    """One message that went out (kept for ``notify test`` and the tests)."""

    target: str  # shown: secrets as ***
    title: str
    body: str
    attempt: int


@dataclass(order=True)
class _Retry:
    due: float
    order: int
    target: int = field(compare=False)
    title: str = field(compare=False)
    body: str = field(compare=False)
    attempt: int = field(compare=False)  # tries made so far


class Notifier:
    """Send notices to the configured targets from one background thread."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        sender: Sender,
        *,
        log: logging.Logger | None = None,
        quiet_s: float = QUIET_S,
        max_group_s: float = MAX_GROUP_S,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        attempts: int = ATTEMPTS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.targets = list(targets)
        self.sender = sender
        self.log = log or logging.getLogger("cyclerctl.notify")
        self.quiet_s = quiet_s
        self.max_group_s = max_group_s
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.attempts = attempts
        self.sent: list[Sent] = []
        self.failures: list[str] = []  # every failed try, as logged
        self.given_up: list[Sent] = []
        self._secrets = [s for t in self.targets for s in t.secrets()]
        self._urls: list[str | None] = []
        for target in self.targets:
            try:
                self._urls.append(target.resolved())
            except NotifySecretError as exc:
                self.log.error("%s: this target is not told anything", self._redact(str(exc)))
                self._urls.append(None)
        self._queue: queue.Queue[Notice] = queue.Queue(queue_size)
        self._retries: list[_Retry] = []
        self._order = itertools.count()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._main, name="notify", daemon=True)

    # -- any thread ------------------------------------------------------------------------

    def start(self) -> Notifier:
        self._thread.start()
        return self

    def notify(self, notice: Notice) -> None:
        """Queue ``notice``; returns at once (a full queue drops it, logged)."""
        if not any(t.wants(notice.event, notice.touches) for t in self.targets):
            return
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self.log.error("notify: queue full, dropped: %s on %s", notice.event, notice.channel)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued now (no more waiting for a burst, one try each), then stop;
        retries not yet due are given up, logged."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.log.error("notify: still sending after %.0f s; left behind", timeout)

    # -- the thread ----------------------------------------------------------------------

    def _main(self) -> None:
        while True:
            closing = self._closing.is_set()
            burst = self._gather(closing)
            if burst:
                self._dispatch(burst)
            self._retry_due(closing)
            if closing and self._queue.empty():
                for left in self._retries:
                    self._give_up(left, "the daemon stopped before it went through")
                return

    def _gather(self, closing: bool) -> list[Notice]:
        """The next burst, or [] when nothing came before the next retry is due."""
        wait = 0.0 if closing else self._until_next_retry()
        try:
            first = (
                self._queue.get(timeout=min(wait, 0.25)) if wait > 0 else self._queue.get_nowait()
            )
        except queue.Empty:
            return []
        burst = [first]
        began = time.monotonic()
        while True:
            left = self.max_group_s - (time.monotonic() - began)
            quiet = 0.0 if self._closing.is_set() else min(self.quiet_s, left)
            try:
                burst.append(
                    self._queue.get(timeout=quiet) if quiet > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                return burst

    def _until_next_retry(self) -> float:
        if not self._retries:
            return 0.25
        return max(0.0, min(0.25, self._retries[0].due - time.monotonic())) or 0.001

    def _dispatch(self, burst: list[Notice]) -> None:
        for index, target in enumerate(self.targets):
            mine = [n for n in burst if target.wants(n.event, n.touches)]
            if not mine:
                continue
            title, body = compose(mine)
            self._try(_Retry(0.0, next(self._order), index, title, body, 0))

    def _retry_due(self, closing: bool) -> None:
        now = time.monotonic()
        while self._retries and (closing or self._retries[0].due <= now):
            if closing:
                return  # given up in _main, once the queue is empty
            self._try(heapq.heappop(self._retries))

    def _try(self, item: _Retry) -> None:
        url = self._urls[item.target]
        shown_url = self.targets[item.target].shown
        item.attempt += 1
        if url is None:
            return
        try:
            error = self.sender.send(url, item.title, item.body)
        except Exception as exc:  # a sender's bug must not end the thread
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self.sent.append(Sent(shown_url, item.title, item.body, item.attempt))
            self.log.info("notify %s: sent %r (try %d)", shown_url, item.title, item.attempt)
            return
        error = self._redact(error)
        if item.attempt >= self.attempts or self._closing.is_set():
            self.failures.append(error)
            self.log.error(
                "notify %s: try %d/%d failed: %s", shown_url, item.attempt, self.attempts, error
            )
            self._give_up(item, f"{item.attempt} tries failed")
            return
        delay = min(self.retry_first_s * 2 ** (item.attempt - 1), self.retry_max_s)
        self.failures.append(error)
        self.log.warning(
            "notify %s: try %d/%d failed: %s; next try in %.3g s",
            shown_url, item.attempt, self.attempts, error, delay,
        )  # fmt: skip
        item.due = time.monotonic() + delay
        heapq.heappush(self._retries, item)

    def _give_up(self, item: _Retry, why: str) -> None:
        shown_url = self.targets[item.target].shown
        self.given_up.append(Sent(shown_url, item.title, item.body, item.attempt))
        self.log.error("notify %s: gave up on %r: %s", shown_url, item.title, why)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def send_test(
    targets: Sequence[NotifyTarget], sender: Sender, *, host: str
) -> list[tuple[str, str | None]]:
    """One test message to each target, now: (target shown, None or why it failed)."""
    results: list[tuple[str, str | None]] = []
    for target in targets:
        secrets = target.secrets()
        try:
            url = target.resolved()
        except NotifySecretError as exc:
            results.append((target.shown, redact(str(exc), secrets)))
            continue
        events = ", ".join(target.on)
        only = f" on channels {', '.join(target.channels)}" if target.channels else ""
        body = (
            f"This is a test from cyclerctl on {host}.\n"
            f"This target is told about: {events}{only}.\n"
            "Nothing has happened to any run."
        )
        try:
            error = sender.send(url, f"cyclerctl: test message from {host}", body)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        results.append((target.shown, None if error is None else redact(error, secrets)))
    return results
