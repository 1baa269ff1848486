"""One run from start to recorded end: create it, drive the channel, store the result.

Whatever happens — completion, a safety stop, the operator, an exception in a driver —
the run leaves this function with a status and an end reason in the database, the channel
stopped, and everything measured up to then committed. A run never dies silently.

The one exception is a detached run (the daemon shutting down): it keeps its status
(running or paused) and its checkpoint, for the next daemon to resume.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cyclerctl.drivers.base import Chamber, Channel
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.program import Position
from cyclerctl.engine.resume import ResumePoint
from cyclerctl.engine.runner import DETACHED, ChannelRunner, RunOutcome
from cyclerctl.plan import Plan, SafetyLimit
from cyclerctl.reanalysis import reanalyse
from cyclerctl.store import EventRecord, RunInfo, StepRecord, Store

#: Exit codes of `cyclerctl run` by final status (2 is bad input, decided before a run exists).
EXIT_CODE = {"completed": 0, "safety_stop": 1, "failed": 1, "stopped": 3, "interrupted": 3}


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
) -> RunReport:
    run = store.create_run(plan, operator=operator, instrument=instrument, channel=channel.name)
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
) -> RunReport:
    """Drive an existing run (claimed from the queue, or resumed) to its recorded end.

    ``on_state`` is told "paused"/"running" as the run pauses and resumes; by default the
    run's status in the store follows.
    """

    def follow(state: str) -> None:
        if state == "paused":
            writer.flush(timeout=30.0)  # paused means: everything up to the pause is stored
        store.set_status(run.id, state)

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
        on_state=on_state or follow,
        poll_interval_s=poll_interval_s,
    )
    try:
        outcome = runner.run()
    except KeyboardInterrupt:
        _stop_quietly(channel)
        outcome = RunOutcome("stopped", "operator", runner.steps_run, runner.seq, runner.run_time_s)
        writer.event(
            EventRecord(
                t=runner.run_time_s,
                kind="operator",
                severity="info",
                message="interrupted from the terminal (Ctrl-C)",
                data={},
            )
        )
    except Exception as exc:  # a driver or engine fault: record it, never lose the run
        _stop_quietly(channel)
        reason = f"error:{type(exc).__name__}"
        outcome = RunOutcome("failed", reason, runner.steps_run, runner.seq, runner.run_time_s)
        writer.event(
            EventRecord(
                t=runner.run_time_s,
                kind="error",
                severity="alarm",
                message=str(exc) or reason,
                data={"traceback": traceback.format_exc(limit=8)},
            )
        )
    finally:
        writer.close()
    if outcome.status == DETACHED:
        left = store.get_run(run.id)
        assert left is not None
        return RunReport(left, outcome)
    try:
        reanalyse(store, run.id, end_reason=outcome.end_reason)
    except Exception as exc:  # a result that cannot be computed must not lose the run
        store.add_event(
            run.id,
            EventRecord(
                t=runner.run_time_s,
                kind="error",
                severity="warning",
                message=f"analysis failed: {type(exc).__name__}: {exc}",
                data={"traceback": traceback.format_exc(limit=8)},
            ),
        )
    store.set_status(run.id, outcome.status, end_reason=outcome.end_reason)
    final = store.get_run(run.id)
    assert final is not None
    return RunReport(final, outcome)


def _stop_quietly(channel: Channel) -> None:
    # the channel is already in trouble; the run records the first fault, not this one
    with contextlib.suppress(Exception):
        channel.stop()
