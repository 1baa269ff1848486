"""One run on one channel: compile, open, drive, record the end.

The run is a task of its instrument's :class:`~cyclerctl.engine.scheduler.ChannelScheduler`
(one thread for all the channels of an instrument, issue 20), not a thread of its own. What
may block for long before the engine starts — compiling, opening the instrument, recording
a failure — runs through :func:`~cyclerctl.engine.scheduler.blocking`, off that thread.

The plan is compiled again from the protocol and cell *text stored with the run* (and its
``--set`` overrides), so what runs is what was submitted, whatever the files say now. A run
the daemon adopts (its own after a restart, or a dead daemon's) resumes from its checkpoint.

Whatever goes wrong before the engine starts — a protocol that no longer compiles, an
instrument that cannot be opened, a plan the channel cannot run — fails this run only,
with the reason as an event and as its end reason. Faults while it runs are the engine's
(``drive_run``): they also end the run ``failed`` with the reason recorded.
"""

from __future__ import annotations

import logging
import time
import traceback

from cyclerctl.daemon.hosts import InstrumentHost, OpenedChannel
from cyclerctl.engine.control import EventObserver, RunControl
from cyclerctl.engine.resume import ResumePoint, load_resume_point
from cyclerctl.engine.scheduler import ChannelScheduler, Task, blocking
from cyclerctl.plan import Plan
from cyclerctl.store import CommandRecord, EventRecord, RunInfo, Store


class RunFailed(Exception):
    """The run cannot start: ``reason`` is its end reason, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RunWorker:
    """Drives one run; the supervisor hands it operator commands through :meth:`deliver`."""

    def __init__(
        self,
        store: Store,
        run: RunInfo,
        host: InstrumentHost,
        number: int,
        *,
        resume: bool,
        log: logging.Logger,
        scheduler: ChannelScheduler,
        poll_interval_s: float = 0.5,
        instrument_lost_after_s: float = 600.0,
        observer: EventObserver | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.host = host
        self.number = number
        self.resume = resume
        self.log = log
        self.poll_interval_s = poll_interval_s
        self.instrument_lost_after_s = instrument_lost_after_s
        self.control = RunControl(observer=observer)  # observer: the daemon's notifications
        self.outcome: str | None = None  # final status, "detached", or None while running
        self.crashed = False  # the worker itself failed: the run may still be active
        self.finished_at: float | None = None
        self.stall_reported = False  # the watchdog's alarm for the current stall was raised
        self.scheduler = scheduler
        self._task: Task | None = None

    @property
    def channel(self) -> str:
        return self.run.channel

    def start(self) -> None:
        if self.run.status == "paused":  # adopted while paused: it stays paused
            self.control.pause()
        self._task = self.scheduler.submit(self._main, f"run-{self.run.id}@{self.run.channel}")

    def alive(self) -> bool:
        return self._task is not None and self._task.alive()

    def join(self, timeout: float | None = None) -> None:
        if self._task is not None:
            self._task.join(timeout)

    def deliver(self, command: CommandRecord) -> str:
        """Act on an operator's command; the answer recorded as its acknowledgement."""
        by = command.operator
        if command.kind == "pause":
            return self.control.pause(by)
        if command.kind == "resume":
            return self.control.resume(by)
        if command.kind == "stop":
            return self.control.stop(by)
        return f"ignored: unknown command {command.kind!r}"

    def detach(self) -> None:
        self.control.detach()

    def stalled_for(self) -> float:
        """Seconds the engine has been inside one driver call (0: it is not)."""
        since = self.control.alive_at
        return 0.0 if since is None or not self.alive() else time.monotonic() - since

    # -- the task -------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self.outcome = self._drive()
        except RunFailed as failure:
            reason, message = failure.reason, str(failure)
            blocking(lambda: self._fail(reason, message))
            self.outcome = "failed"
        except Exception as exc:  # the store itself failed: the run stays for a retry
            self.crashed = True
            self.log.error(
                "run %s on %s: worker failed: %s\n%s",
                self.run.id,
                self.channel,
                exc,
                traceback.format_exc(limit=8),
            )
        finally:
            self.finished_at = time.monotonic()

    def _drive(self) -> str:
        from cyclerctl.engine.session import drive_run

        run = self.run
        plan, point, opened = blocking(self._prepare)
        what = "resuming" if point is not None else "starting"
        self.log.info(
            "run %s on %s: %s %s with %s", run.id, run.channel, what, plan.protocol_name,
            plan.cell.name,
        )  # fmt: skip
        report = drive_run(
            self.store,
            run,
            plan,
            opened.channel,
            hard_limits=self.host.config.limits,
            chamber=opened.chamber,
            control=self.control,
            resume=point,
            poll_interval_s=self.poll_interval_s,
            instrument_lost_after_s=self.instrument_lost_after_s,
        )
        outcome = report.outcome
        self.log.info(
            "run %s on %s: %s (%s) after %d step(s), %d point(s)",
            run.id,
            run.channel,
            outcome.status,
            outcome.end_reason,
            outcome.steps_run,
            outcome.points_stored,
        )
        return outcome.status

    def _prepare(self) -> tuple[Plan, ResumePoint | None, OpenedChannel]:
        """The plan, where to resume, and the channel opened and fit for the plan (on a
        blocking thread: the instrument may take its time to answer)."""
        from cyclerctl.engine.compat import misfits

        run = self.run
        plan = self._plan()
        point = self._resume_point() if self.resume else None
        self.control.beat()  # from here on a call that never returns is the instrument's
        try:
            opened = self.host.open_channel(self.number, plan)
        except Exception as exc:
            raise RunFailed(
                f"error:{type(exc).__name__}",
                f"instrument {self.host.name}: {exc}",
            ) from exc
        problems = misfits(
            plan,
            opened.channel.capabilities,
            run.channel,
            has_chamber=opened.chamber is not None,
        )
        if problems:
            raise RunFailed("error:misfit", "; ".join(problems))
        if not run.instrument:
            self.store.set_instrument(run.id, opened.identity)
        return plan, point, opened

    def _plan(self) -> Plan:
        from cyclerctl.channel_limits import instrument_limits
        from cyclerctl.protocol import ChannelLimits, ProtocolError
        from cyclerctl.protocol.compiler import plan_from_texts

        run = self.run
        snapshot = self.store.run_snapshot(run.id)
        if snapshot is None:
            raise RunFailed("error:missing", f"run {run.id} is not in the database")
        cell = snapshot.get("cell") or {}

        def compile_for(channel: ChannelLimits | None = None) -> Plan:
            return plan_from_texts(
                snapshot["protocol_text"],
                snapshot["cell_text"],
                run.overrides,
                protocol_source=run.protocol_source,
                cell_source=str(cell.get("source") or run.cell_name),
                channel=channel,
            )

        try:
            # checked again against what this channel allows: the config may have changed
            # since the submit, or the run was adopted by another PC's daemon
            plan = compile_for()
            plan = compile_for(instrument_limits(self.host.config, self.number, plan))
        except ProtocolError as exc:
            raise RunFailed("error:protocol", str(exc)) from exc
        except ValueError as exc:  # the simulator cannot model the cell configured there
            raise RunFailed(f"error:{type(exc).__name__}", f"{self.host.name}: {exc}") from exc
        if plan.protocol_sha256 != run.protocol_sha256:
            raise RunFailed("error:protocol", "the stored protocol text does not match its hash")
        return plan

    def _resume_point(self) -> ResumePoint | None:
        """Where to pick up, or None when the run never started a step."""
        return load_resume_point(self.store, self.run.id)

    def _fail(self, reason: str, message: str) -> None:
        self.log.error("run %s on %s failed: %s", self.run.id, self.channel, message)
        try:
            self.store.add_event(
                self.run.id,
                EventRecord(kind="error", severity="alarm", message=message, data={}),
            )
            self.store.set_status(self.run.id, "failed", end_reason=reason)
        except Exception as exc:
            self.crashed = True
            self.log.error("run %s: cannot record the failure: %s", self.run.id, exc)
