"""The daemon's main loop: heartbeat, queue, commands, adoption, clean stop.

Every ``poll`` (0.5 s) the supervisor
1. reaps finished workers (their channels are free again);
2. answers operator commands for the runs it owns (pause/resume/stop go to the run's
   worker; the answer is the command's acknowledgement, within one poll);
3. claims queued runs for its free channels, oldest first, each a task of its
   instrument's scheduler (one thread per instrument, not per run: issue 20);
4. now and then, adopts orphaned runs on its channels: its own after a restart (at once),
   a dead daemon's once its heartbeat is ``stale_after`` old; they resume from their
   checkpoints.

A separate thread sends the heartbeat every ``heartbeat``, so a slow query in the loop
never makes the daemon look dead. SIGTERM/SIGINT stop the daemon cleanly: each run is
detached (host-sequenced channels brought to rest, on-board steps left running), its data
committed, and it stays running/paused in the database, owned by this daemon, for the next
start to resume.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cyclerctl import host_os
from cyclerctl.config import Config
from cyclerctl.daemon.alerts import Alerts
from cyclerctl.daemon.hosts import ChamberHost, InstrumentHost
from cyclerctl.daemon.worker import RunWorker
from cyclerctl.engine.scheduler import ChannelScheduler
from cyclerctl.store import EventRecord, RunInfo, Store

#: a run whose worker failed (the store, not the run) is retried after this long
RETRY_AFTER_S = 30.0
#: how long a clean stop waits for the runs to detach and commit
DETACH_TIMEOUT_S = 20.0


class Daemon:
    def __init__(self, config: Config, store: Store, *, log: logging.Logger | None = None) -> None:
        self.config = config
        self.settings = config.daemon
        self.name = self.settings.name
        self.store = store
        self.log = log or logging.getLogger("cyclerctl.daemon")
        self.host = socket.gethostname()
        chambers = {c.name: ChamberHost(c) for c in config.chambers}
        self.hosts: dict[str, InstrumentHost] = {}
        # one thread drives all the runs of an instrument (its channels share its connection)
        self.schedulers: dict[str, ChannelScheduler] = {}
        self.channels: dict[str, tuple[InstrumentHost, int]] = {}
        for inst in config.instruments:
            chamber = config.chamber_of(inst)
            host = InstrumentHost(inst, chambers[chamber.name] if chamber else None)
            self.hosts[inst.name] = host
            self.schedulers[inst.name] = ChannelScheduler(inst.name)
            for number in inst.numbers:
                self.channels[f"{inst.name}:{number}"] = (host, number)
        self._chambers = list(chambers.values())
        self.workers: dict[int, RunWorker] = {}  # by run id
        self._failed_at: dict[int, float] = {}  # run id → when its worker crashed
        self.stopping = threading.Event()
        self._last_adoption = -1e9
        self.alerts = Alerts.build(config, store, self.log)  # [[notify]]: who hears of what
        #: monotonic time the heartbeat first failed to be written (None: it goes through)
        self.heartbeat_failing_since: float | None = None

    # -- life cycle -----------------------------------------------------------------------

    def run(self) -> int:
        """Run until :meth:`stop` (or a signal); returns the exit code."""
        self.log.info(
            "daemon %s (pid %d) on %s: %d instrument(s), channels %s; database %s",
            self.name,
            os.getpid(),
            self.host,
            len(self.hosts),
            ", ".join(self.channels) or "(none)",
            self.store.engine.url.render_as_string(hide_password=True),
        )
        twin = self._twin()
        if twin:
            self.log.error("%s", twin)
            return 1
        self._heartbeat()  # before adopting: a daemon with no heartbeat can be adopted from
        beat = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        beat.start()
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                self.tick()
                self.stopping.wait(max(0.0, self.settings.poll_s - (time.monotonic() - started)))
        finally:
            self._shutdown()
        return 0

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def tick(self) -> None:
        """One pass of the loop; a failure of the database here is logged and retried."""
        steps = (self._reap, self._answer_commands, self._watch, self._adopt, self._claim)
        for step in (*steps, self._alert):
            if self.stopping.is_set():
                return
            try:
                step()
            except Exception as exc:
                what = step.__name__.strip("_")
                self.log.error("%s failed: %s: %s", what, type(exc).__name__, exc)

    def _shutdown(self) -> None:
        workers = [w for w in self.workers.values() if w.alive()]
        if workers:
            self.log.info("stopping: detaching %d run(s)", len(workers))
        for worker in workers:
            worker.detach()
        deadline = time.monotonic() + DETACH_TIMEOUT_S
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.alive():
                self.log.error("run %s on %s did not detach in time", worker.run.id, worker.channel)
        try:
            self._answer_commands()  # what came in meanwhile is answered, not left hanging
        except Exception as exc:
            self.log.error("answering commands on the way out failed: %s", exc)
        for host in self.hosts.values():
            if not host.close():
                self.log.error("instrument %s is busy in a call that does not return", host.name)
        for chamber in self._chambers:
            chamber.close()
        try:
            self._reap()  # the ends of runs that finished meanwhile (detached ones say nothing)
            self._alert()
        except Exception as exc:
            self.log.error("notifying on the way out failed: %s", exc)
        self.alerts.close()  # what is queued goes out (bounded wait)
        self.log.info("daemon %s stopped", self.name)

    def _twin(self) -> str | None:
        """Why not to start: another live process already runs under this daemon's name.

        Two of them would both adopt and drive the same runs. A previous process of ours
        that crashed (kill -9, power loss) is no twin: its pid is gone on this host, or its
        heartbeat has gone stale elsewhere.
        """
        from cyclerctl.store.records import utcnow

        for other in self.store.daemons():
            if other.name != self.name:
                continue
            age = (utcnow() - other.heartbeat_at).total_seconds()
            if age > self.settings.stale_after_s:
                return None
            same_host = other.host == self.host
            if same_host and (other.pid == os.getpid() or not host_os.pid_alive(other.pid)):
                return None
            return (
                f"daemon {self.name} is already running on {other.host} (pid {other.pid}, "
                f"heartbeat {age:.1f} s ago); give this one another [daemon] name, or stop "
                f"that one first (it counts as gone {self.settings.stale_after_s:g} s after "
                "its last heartbeat)"
            )
        return None

    # -- heartbeat ------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self.store.heartbeat(
            self.name,
            host=self.host,
            pid=os.getpid(),
            instruments=list(self.hosts),
            channels=list(self.channels),
        )

    def _heartbeats(self) -> None:
        from cyclerctl.store.writer import is_unwritable

        while not self.stopping.wait(self.settings.heartbeat_s):
            try:
                self._heartbeat()
            except Exception as exc:
                self.log.error("heartbeat failed: %s: %s", type(exc).__name__, exc)
                if is_unwritable(exc) and self.heartbeat_failing_since is None:
                    self.heartbeat_failing_since = time.monotonic()
            else:
                self.heartbeat_failing_since = None

    # -- the loop's steps -----------------------------------------------------------------

    def _reap(self) -> None:
        for run_id, worker in list(self.workers.items()):
            if worker.alive():
                continue
            del self.workers[run_id]
            if worker.crashed:
                self._failed_at[run_id] = time.monotonic()
            elif worker.outcome is not None:
                self.alerts.run_ended(run_id)  # its end as recorded (nothing if detached)

    def _watch(self) -> None:
        """An alarm for each run stuck in one driver call (a hung or dead instrument).

        Only that run waits: its instrument's other channels queue behind the same lock,
        other instruments are not affected. Reported once per stall.
        """
        limit = self.settings.stall_alarm_s
        for worker in self.workers.values():
            stalled = worker.stalled_for()
            if stalled < limit:
                worker.stall_reported = False
                continue
            if worker.stall_reported:
                continue
            worker.stall_reported = True
            message = (
                f"no answer from {worker.channel} ({worker.host.name}, "
                f"{worker.host.config.driver}) for {stalled:.0f} s: a driver call has not "
                "returned; the run waits for it"
            )
            self.log.error("run %s: %s", worker.run.id, message)
            self.store.add_event(
                worker.run.id,
                EventRecord(
                    kind="stall", severity="alarm", message=message, data={"stalled_s": stalled}
                ),
            )

    def _alert(self) -> None:
        """Notifications: the runs' alarms heard since the last tick, the database's state."""
        self.alerts.tick(self._busy_channels(), self.heartbeat_failing_since)

    def _busy_channels(self) -> set[str]:
        return {w.channel for w in self.workers.values()}

    def _answer_commands(self) -> None:
        for command in self.store.pending_commands(self.name):
            worker = self.workers.get(command.run_id)
            if worker is not None and worker.alive():
                result = worker.deliver(command)
            else:
                run = self.store.get_run(command.run_id)
                state = "gone" if run is None else run.status
                result = f"ignored: run {command.run_id} is not active here ({state})"
            self.store.acknowledge(command.id, daemon=self.name, result=result)
            self.log.info(
                "run %s: %s by %s from %s: %s",
                command.run_id,
                command.kind,
                command.operator,
                command.host or "?",
                result,
            )

    def _claim(self) -> None:
        while True:
            free = [c for c in self.channels if c not in self._busy_channels()]
            if not free or not self._anything_queued(free):
                return
            run = self.store.claim_next(free, self.name)
            if run is None:
                return
            self.log.info(
                "claimed run %s (%s, %s) on %s for %s",
                run.id,
                run.protocol_name,
                run.cell_name,
                run.channel,
                run.operator,
            )
            self._start(run, resume=False)

    def _anything_queued(self, channels: list[str]) -> bool:
        """A plain read first: claiming is a write transaction, and on SQLite every one
        waits for the one write lock the running channels' writers take turns at."""
        from sqlalchemy import select

        from cyclerctl.store import models

        runs = models.runs
        query = (
            select(runs.c.id)
            .where(runs.c.status == "queued", runs.c.channel.in_(channels))
            .limit(1)
        )
        with self.store.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def _adopt(self) -> None:
        now = time.monotonic()
        # own runs are adopted at once (first pass); others' are checked a few times per
        # stale_after, which is when a silent daemon starts to count as dead
        if now - self._last_adoption < self.settings.stale_after_s / 3:
            return
        self._last_adoption = now
        active = {w.run.id for w in self.workers.values()}
        orphans = self.store.orphaned_runs(
            self.name, stale_after_s=self.settings.stale_after_s, channels=list(self.channels)
        )
        for run in orphans:
            if run.id in active or run.channel in self._busy_channels():
                continue
            failed = self._failed_at.get(run.id)
            if failed is not None and now - failed < RETRY_AFTER_S:
                continue
            if not self.store.adopt(run.id, self.name, stale_after_s=self.settings.stale_after_s):
                continue
            previous = "this daemon before a restart" if run.daemon == self.name else run.daemon
            self.log.info(
                "adopted run %s (%s) on %s from %s", run.id, run.status, run.channel, previous
            )
            self._start(run, resume=True)

    def _start(self, run: RunInfo, *, resume: bool) -> None:
        host, number = self.channels[run.channel]
        worker = RunWorker(
            self.store,
            run,
            host,
            number,
            resume=resume,
            log=self.log,
            scheduler=self.schedulers[host.name],
            poll_interval_s=min(0.5, self.settings.poll_s),
            instrument_lost_after_s=self.settings.instrument_lost_after_s,
            observer=self.alerts.observer(run),
        )
        self.workers[run.id] = worker
        worker.start()


@contextmanager
def signals_stop(daemon: Daemon) -> Iterator[None]:
    """The stop signals (SIGTERM, Ctrl-C, a closed terminal; Ctrl-Break on Windows) stop the
    daemon cleanly (restored afterwards)."""

    def stop(name: str) -> None:
        daemon.log.info("%s received: stopping", name)
        daemon.stop()

    with host_os.calling_on_stop(stop):
        yield


def run_daemon(config: Config, store: Store) -> int:
    """`cyclerctl daemon`: run in the foreground, logging to stderr, until a signal."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {config.daemon.name} %(levelname)s %(message)s",
    )
    daemon = Daemon(config, store)
    with signals_stop(daemon):
        return daemon.run()
