"""What the daemon tells the lab (``[[notify]]``): runs that end, lost instruments, the database.

The daemon's side of :mod:`cyclerctl.notify`. Three places feed it:

- the supervisor's reap, when a run's worker has finished: the run's final status is the
  event (safety_stop, failed, stopped, completed); ``detached`` (the daemon stopping) is
  no end and says nothing;
- each run's :class:`~cyclerctl.engine.control.RunControl` observer, on the run's thread,
  for an ``instrument`` alarm (link lost, instrument not answering): it only appends to a
  deque; the supervisor's next tick turns it into a notice (instrument_lost);
- the supervisor's tick, for the database: unwritable (the store's writer holding points,
  or the heartbeat refused) for ``[daemon] store_outage_alarm`` → store_outage, and once
  more when it is writable again.

Building a notice reads the run and its channel's last V/I/T from small tables, on the
supervisor's thread; sending is the notifier's own thread. None of it touches a run.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable

from cyclerctl.config import Config
from cyclerctl.engine.control import EventObserver
from cyclerctl.notify.dispatch import Notifier
from cyclerctl.notify.message import STATUS_EVENT, Notice
from cyclerctl.store import EventRecord, RunInfo, Store


class Alerts:
    def __init__(
        self, config: Config, store: Store, log: logging.Logger, notifier: Notifier | None
    ) -> None:
        self.config = config
        self.store = store
        self.log = log
        self.notifier = notifier
        self.daemon = config.daemon.name
        self.outage_after_s = config.daemon.store_outage_alarm_s
        self._alarms: collections.deque[tuple[RunInfo, EventRecord]] = collections.deque()
        self._outage_told_at: float | None = None  # monotonic start of the outage told of

    @classmethod
    def build(cls, config: Config, store: Store, log: logging.Logger) -> Alerts:
        """Alerts for ``config``'s targets; without any (or without Apprise) it says nothing."""
        if not config.notify:
            return cls(config, store, log, None)
        from cyclerctl.notify.send import AppriseSender, NotifyUnavailable

        try:
            sender = AppriseSender()
        except NotifyUnavailable as exc:
            log.error("%s; [[notify]] in %s is ignored", exc, config.path)
            return cls(config, store, log, None)
        notifier = Notifier(config.notify, sender, log=logging.getLogger("cyclerctl.notify"))
        log.info("notifications: %d target(s)", len(config.notify))
        return cls(config, store, log, notifier.start())

    @property
    def active(self) -> bool:
        return self.notifier is not None

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()

    # -- a run's thread --------------------------------------------------------------------

    def observer(self, run: RunInfo) -> EventObserver | None:
        """What a run's control tells of its events (None: nobody listens)."""
        if self.notifier is None:
            return None

        def heard(event: EventRecord) -> None:
            if event.kind == "instrument" and event.severity == "alarm":
                self._alarms.append((run, event))  # deque.append: thread-safe, never blocks

        return heard

    # -- the supervisor's thread -----------------------------------------------------------

    def run_ended(self, run_id: int) -> None:
        """A run's worker has finished: tell its end (if it ended; detached runs did not)."""
        if self.notifier is None:
            return
        try:
            self._run_ended(run_id)
        except Exception as exc:  # the database cannot be read: the reap goes on
            self.log.error(
                "notify: run %s ended, not told: %s: %s", run_id, type(exc).__name__, exc
            )

    def _run_ended(self, run_id: int) -> None:
        assert self.notifier is not None
        run = self.store.get_run(run_id)
        if run is None or run.status not in STATUS_EVENT:
            return
        detail = ""
        if run.status in ("safety_stop", "failed", "interrupted"):
            alarms = [e for e in self.store.events(run_id) if e.severity == "alarm"]
            detail = alarms[-1].message if alarms else ""
        event = STATUS_EVENT[run.status]
        self.notifier.notify(self._notice(event, run, self._latest(), detail=detail))

    def tick(self, channels: Iterable[str], heartbeat_failing_since: float | None) -> None:
        """Turn the runs' alarms into notices; watch the database's writability.

        ``channels``: those with a run on them now (the ones a database outage touches)."""
        if self.notifier is None:
            return
        if self._alarms:
            latest = self._latest()
            while self._alarms:
                run, event = self._alarms.popleft()
                self.notifier.notify(
                    self._notice("instrument_lost", run, latest, detail=event.message)
                )
        self._watch_store(tuple(channels), heartbeat_failing_since)

    def _watch_store(self, channels: tuple[str, ...], heartbeat_since: float | None) -> None:
        assert self.notifier is not None
        writer = self._writer_outage_since() if channels else None  # no runs: no writer
        since = [s for s in (writer, heartbeat_since) if s is not None]
        now = time.monotonic()
        if since:
            began = min(since)
            if self._outage_told_at is None and now - began >= self.outage_after_s:
                self._outage_told_at = began
                self.notifier.notify(
                    Notice(
                        "store_outage",
                        f"the database {self.store.url} cannot be written for "
                        f"{now - began:.0f} s; points are held in memory meanwhile",
                        daemon=self.daemon,
                        channels=channels,
                    )
                )
        elif self._outage_told_at is not None:
            lasted = now - self._outage_told_at
            self._outage_told_at = None
            self.notifier.notify(
                Notice(
                    "store_outage",
                    f"the database {self.store.url} is writable again after {lasted:.0f} s",
                    daemon=self.daemon,
                    channels=channels,
                    headline="database writable again",
                )
            )

    def _writer_outage_since(self) -> float | None:
        try:
            writer = self.store.shared_writer()
        except ValueError:  # an in-memory database has no writer thread
            return None
        return writer.outage_since

    def _latest(self) -> dict[str, dict[str, object]]:
        """channel → its channel_latest row (V, I, T…); {} if the database cannot say."""
        try:
            return {str(row["channel"]): row for row in self.store.channel_latest()}
        except Exception as exc:
            self.log.warning("notify: no last V/I/T: %s: %s", type(exc).__name__, exc)
            return {}

    def _notice(
        self,
        event: str,
        run: RunInfo,
        latest: dict[str, dict[str, object]],
        detail: str = "",
    ) -> Notice:
        row = latest.get(run.channel, {})
        if row.get("run_id") not in (None, run.id):
            row = {}  # the channel has moved on to another run
        return Notice(
            event,
            detail,
            channel=run.channel,
            run_id=run.id,
            protocol=run.protocol_name,
            cell=run.cell_name,
            operator=run.operator,
            status=run.status,
            end_reason=run.end_reason,
            V=_float(row.get("V")),
            I=_float(row.get("I")),
            T=_float(row.get("T")),
            daemon=self.daemon,
        )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
