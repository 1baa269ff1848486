"""One run from start to recorded end: create it, drive the channel, store the result.

Whatever happens — completion, a safety stop, the operator, an exception in a driver —
the run leaves this function with a status and an end reason in the database, the channel
stopped, and everything measured up to then committed. A run never dies silently.

The one exception is a detached run (the daemon shutting down): it keeps its status
(running or paused) and its checkpoint, for the next daemon to resume.

When the database has been unwritable so long that the store's writer holds as many points
as it may (StoreBacklogFull), the run stops at that safe point: the channel at rest, a
``store`` alarm event carrying the end reason ``store:backlog-full``, the run ``failed``.
Event and status reach the database once it is writable again: the writer holds the event
with the points, and the status is retried until it is stored or the process is told to
stop (detach). A daemon that restarts before the status got through finds the event and
ends the run with that reason instead of resuming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from cyclerctl.drivers.base import Chamber, Channel
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import Position
from cyclerctl.engine.resume import ResumePoint
from cyclerctl.engine.runner import DETACHED, ChannelRunner, RunOutcome
from cyclerctl.engine.scheduler import blocking
from cyclerctl.host_os import interruptible
from cyclerctl.plan import Plan, SafetyLimit
from cyclerctl.reanalysis import reanalyse
from cyclerctl.store import (
    EventRecord,
    RunInfo,
    RunWriter,
    StepRecord,
    Store,
    StoreBacklogFull,
    WriterError,
)
from cyclerctl.store.writer import BACKLOG_FULL_REASON, OUTAGE_EVENT, is_unwritable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: End reason of a run whose data the store refused (a writer fault that was not the run's).
WRITER_FAILED_REASON = "store:writer-failed"
#: Seconds between two tries of a write the database refused (unwritable), at most.
RETRY_MAX_S = 5.0


@dataclass(frozen=True, slots=True)
class RunReport:
    run: RunInfo
    outcome: RunOutcome


def execute_run(
    store: Store,
    plan: Plan,
    channel: Channel,
    *,
    instrument: Mapping[str, str],
    operator: str,
    hard_limits: tuple[SafetyLimit, ...] = (),
    chamber: Chamber | None = None,
    stop_request: threading.Event | None = None,
    on_step_end: Callable[[Position, StepRecord], None] | None = None,
    on_start: Callable[[RunInfo], None] | None = None,
    instrument_lost_after_s: float = 600.0,
    owner: str | None = None,
) -> RunReport:
    """Create the run (owned by ``owner``: see cyclerctl.store.owners) and drive it."""
    run = store.create_run(
        plan, operator=operator, instrument=instrument, channel=channel.name, daemon=owner
    )
    if on_start is not None:
        on_start(run)
    return drive_run(
        store,
        run,
        plan,
        channel,
        hard_limits=hard_limits,
        chamber=chamber,
        control=RunControl(stop_request or threading.Event()),
        on_step_end=on_step_end,
        instrument_lost_after_s=instrument_lost_after_s,
    )


def drive_run(
    store: Store,
    run: RunInfo,
    plan: Plan,
    channel: Channel,
    *,
    hard_limits: tuple[SafetyLimit, ...] = (),
    chamber: Chamber | None = None,
    control: RunControl | None = None,
    resume: ResumePoint | None = None,
    on_step_end: Callable[[Position, StepRecord], None] | None = None,
    on_state: Callable[[str], None] | None = None,
    poll_interval_s: float = 0.5,
    instrument_lost_after_s: float = 600.0,
) -> RunReport:
    """Drive an existing run (claimed from the queue, or resumed) to its recorded end.

    ``on_state`` is told "paused"/"running" as the run pauses and resumes; by default the
    run's status in the store follows.

    What is not an ``Exception`` (``SystemExit``…) ends the run as a fault does (``failed``,
    ``error:<its type>``, the channel stopped, an error event) and is raised again once the
    run's end is recorded; a ``KeyboardInterrupt`` is the operator at the terminal (a
    :class:`cyclerctl.host_os.StopSignal` names the signal: ``operator:SIGTERM``).
    """
    control = control or RunControl()
    stopped_earlier = _backlog_stop(store, run.id)
    if stopped_earlier is not None:
        # a daemon before this one stopped the run (backlog full) but could not record its
        # status: end it now with that reason, do not resume it
        outcome = RunOutcome("failed", BACKLOG_FULL_REASON, 0, 0, stopped_earlier)
        return blocking(lambda: _finish(store, run, outcome, control, run_time_s=stopped_earlier))
    writer = store.open_writer(run.id, channel=run.channel)
    runner = ChannelRunner(
        plan,
        channel,
        writer,
        hard_limits=hard_limits,
        chamber=chamber,
        control=control,
        resume=resume,
        on_step_end=on_step_end,
        on_state=on_state or _status_follower(store, run.id, writer),
        poll_interval_s=poll_interval_s,
        instrument_lost_after_s=instrument_lost_after_s,
    )
    try:
        outcome, escaping = _drive(store, writer, runner, channel, control)
    finally:
        # whatever happened: what the writer holds is written. Waiting for the database (and
        # below, recording the end) is no real-time work: on a scheduler's task it runs off
        # the scheduler's thread, the other channels go on (issue 20)
        closed = blocking(lambda: _close(writer, control))
    try:
        ended = outcome if closed else _left(outcome)
        return blocking(lambda: _record_end(store, run, writer, runner, ended, control))
    finally:
        if escaping is not None:
            raise escaping  # the real error goes on up, the run's end recorded


def _status_follower(store: Store, run_id: int, writer: RunWriter) -> Callable[[str], None]:
    """The run's status in the store, following "paused"/"running" as they happen."""

    def follow(state: str) -> None:
        blocking(lambda: record(state))

    def record(state: str) -> None:
        try:
            if state == "paused" and not writer.database_unwritable:
                writer.flush(timeout=30.0)  # paused means: everything up to the pause is stored
            store.set_status(run_id, state)
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            # the cell is already at rest (or running again): the data is held by the
            # writer, and the run's final status is retried when it ends
            log.warning("run %s: could not record %s, the database is unwritable", run_id, state)

    return follow


def _drive(
    store: Store, writer: RunWriter, runner: ChannelRunner, channel: Channel, control: RunControl
) -> tuple[RunOutcome, BaseException | None]:
    """Run the plan: its outcome, and what must be raised again once the run's end is
    recorded. Every abrupt end stops the channel and says why in the run's own data."""
    try:
        with interruptible():  # a stop signal lands here, never in the end's recording
            outcome = runner.run()
        return outcome, None
    except KeyboardInterrupt as interrupt:
        # Ctrl-C, or a stop signal turned into one (host_os.stop_on_signals: SIGTERM, the
        # terminal closed…): the same orderly stop, the signal named in the end reason
        _stop_quietly(channel)
        name = getattr(interrupt, "signal_name", None)
        how = f"by {name}" if name else "from the terminal (Ctrl-C)"
        writer.event(
            EventRecord(
                t=runner.run_time_s,
                kind="operator",
                severity="info",
                message=f"interrupted {how}: the channel was stopped",
                data={"signal": name} if name else {},
            )
        )
        return _ended(runner, "stopped", f"operator:{name}" if name else "operator"), None
    except StoreBacklogFull as full:
        return _backlog_full(writer, runner, channel, full), None
    except Exception as exc:  # a driver or engine fault: record it, never lose the run
        return _fault(store, writer, runner, channel, control, exc), None
    except BaseException as exc:  # SystemExit…: the run ends as on a fault, then it goes on
        return _fault(store, writer, runner, channel, control, exc), exc


def _backlog_full(
    writer: RunWriter, runner: ChannelRunner, channel: Channel, full: StoreBacklogFull
) -> RunOutcome:
    """A safe point: the block that hit the bound is held with the others; bring the cell
    to rest and say why, in the run's own data (held until the database is back)."""
    stop_error = _stop(channel)
    message = f"stopped: {full}"
    if stop_error is not None:
        message += f"; stopping the channel failed: {stop_error!r}"
    writer.event(
        EventRecord(
            t=runner.run_time_s,
            kind=OUTAGE_EVENT,
            severity="alarm",
            message=message,
            data={"end_reason": BACKLOG_FULL_REASON, "run_time_s": runner.run_time_s},
        )
    )
    return _ended(runner, "failed", BACKLOG_FULL_REASON)


def _fault(
    store: Store,
    writer: RunWriter,
    runner: ChannelRunner,
    channel: Channel,
    control: RunControl,
    exc: BaseException,
) -> RunOutcome:
    """The run fails with ``exc`` as its reason and its traceback in an error event."""
    _stop_quietly(channel)
    reason = f"error:{type(exc).__name__}"
    event = EventRecord(
        t=runner.run_time_s,
        kind="error",
        severity="alarm",
        message=str(exc) or reason,
        data={"traceback": "".join(traceback.format_exception(exc, limit=8))},
    )
    _record(store, writer, event, control)
    return _ended(runner, "failed", reason)


def _ended(runner: ChannelRunner, status: str, reason: str) -> RunOutcome:
    """The outcome of a run that ended abruptly, where the runner had got to."""
    return RunOutcome(status, reason, runner.steps_run, runner.seq, runner.run_time_s)


def _left(outcome: RunOutcome) -> RunOutcome:
    """Told to stop while the database is unwritable: what the writer held is lost with
    the process; the run keeps its last committed checkpoint for a restart."""
    return dataclasses.replace(outcome, status=DETACHED, end_reason=None)


def _record_end(
    store: Store,
    run: RunInfo,
    writer: RunWriter,
    runner: ChannelRunner,
    outcome: RunOutcome,
    control: RunControl,
) -> RunReport:
    """The run's end as the database keeps it: a writer's fault fails a run that went on;
    a detached run is left as it is."""
    if writer.error is not None and outcome.status != DETACHED and outcome.status != "failed":
        # the run went on, but what it measured after the writer's fault is not stored
        outcome = dataclasses.replace(outcome, status="failed", end_reason=WRITER_FAILED_REASON)
        fault = EventRecord(
            t=runner.run_time_s,
            kind="error",
            severity="alarm",
            message=f"the store refused this run's data: {writer.error!r}",
        )
        _retry(lambda: store.add_event(run.id, fault), control)
    if outcome.status == DETACHED:
        left = store.get_run(run.id)
        assert left is not None
        return RunReport(left, outcome)
    return _finish(store, run, outcome, control, run_time_s=runner.run_time_s)


def _finish(
    store: Store, run: RunInfo, outcome: RunOutcome, control: RunControl, *, run_time_s: float
) -> RunReport:
    """Results, then the final status, each retried while the database is unwritable."""
    try:
        reanalyse(store, run.id, end_reason=outcome.end_reason)
    except Exception as exc:  # a result that cannot be computed must not lose the run
        event = EventRecord(
            t=run_time_s,
            kind="error",
            severity="warning",
            message=f"analysis failed: {type(exc).__name__}: {exc}",
            data={"traceback": traceback.format_exc(limit=8)},
        )
        _retry(lambda: store.add_event(run.id, event), control)
    stored = _retry(
        lambda: store.set_status(run.id, outcome.status, end_reason=outcome.end_reason), control
    )
    if not stored:
        outcome = _left(outcome)
    final = store.get_run(run.id)
    assert final is not None
    return RunReport(final, outcome)


def _backlog_stop(store: Store, run_id: int) -> float | None:
    """Run time of an earlier backlog-full stop of the run still active, else None."""
    for event in reversed(store.events(run_id)):
        if event.kind == OUTAGE_EVENT and event.data.get("end_reason") == BACKLOG_FULL_REASON:
            run_time = event.data.get("run_time_s", event.t)
            return float(run_time) if run_time is not None else 0.0
    return None


def _record(store: Store, writer: RunWriter, event: EventRecord, control: RunControl) -> None:
    """The event behind the run's data; straight into the store if the writer has failed
    (the fault being recorded may be the writer's own)."""
    if writer.error is None:
        writer.event(event)
    else:
        _retry(lambda: store.add_event(writer.run_id, event), control)


def _close(writer: RunWriter, control: RunControl) -> bool:
    """Close the run's writer: everything it holds committed. While the database is
    unwritable this waits for it, until the process is told to stop (False). A writer that
    failed has recorded nothing since its fault; that fault is the run's end reason."""
    while True:
        try:
            writer.close(timeout=1.0)
            return True
        except WriterError as exc:
            log.error("run %s: the writer failed: %s", writer.run_id, exc)
            return True
        except TimeoutError:
            if control.detach_requested and writer.database_unwritable:
                log.error(
                    "run %s: the database is still unwritable and the daemon is stopping: "
                    "points held for it are lost; it resumes from its last checkpoint",
                    writer.run_id,
                )
                return False


def _retry(write: Callable[[], T], control: RunControl) -> bool:
    """``write()`` until it goes through (True), retried with backoff while the database
    is unwritable, until the process is told to stop (False). Other errors propagate."""
    delay = 0.1
    while True:
        try:
            write()
            return True
        except Exception as exc:
            if not is_unwritable(exc):
                raise
            if control.detach_requested:
                log.error("database unwritable, giving up as the daemon stops: %s", exc)
                return False
            log.warning("database unwritable, retrying in %.1f s: %s", delay, exc)
        time.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)


def _stop(channel: Channel) -> Exception | None:
    try:
        channel.stop()
    except Exception as exc:  # reported in the run's event; the run still ends
        return exc
    return None


def _stop_quietly(channel: Channel) -> None:
    # the channel is already in trouble; the run records the first fault, not this one
    with contextlib.suppress(Exception):
        channel.stop()
