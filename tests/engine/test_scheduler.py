"""Many runs on one scheduler thread: the engine's waits park tasks, requests wake them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.scheduler import ChannelScheduler, blocking, current_task
from cyclerctl.engine.session import RunReport, drive_run
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store

GUARD_S = 60.0  # a test that hangs fails instead of hanging the suite (not a speed figure)


def test_tasks_share_one_thread_and_go_round_in_turn() -> None:
    scheduler = ChannelScheduler("test")
    threads: set[str] = set()
    passes: dict[int, int] = {}

    def run(n: int) -> None:
        control = RunControl()
        for _ in range(5):
            threads.add(threading.current_thread().name)
            passes[n] = passes.get(n, 0) + 1
            control.sleep(0.01)

    tasks = [scheduler.submit(lambda n=n: run(n), f"run-{n}") for n in range(50)]  # type: ignore[misc]
    for task in tasks:
        task.join(GUARD_S)
    assert all(not t.alive() for t in tasks)
    assert threads == {"scheduler-test"}
    assert passes == {n: 5 for n in range(50)}
    assert scheduler.tasks == 0


def test_a_request_cuts_a_parked_sleep_short_and_resume_ends_a_pause() -> None:
    scheduler = ChannelScheduler("test")
    control = RunControl()
    parked = threading.Event()
    seen: list[str] = []

    def run() -> None:
        parked.set()
        control.sleep(3600.0)  # an hour: only the pause request ends it
        seen.append("woken" if control.pause_requested else "timed out")
        control.wait_while_paused()
        seen.append("resumed" if not control.pause_requested else "still paused")

    task = scheduler.submit(run, "run")
    assert parked.wait(GUARD_S)
    assert control.pause("ana") == "ok"
    for _ in range(1000):  # the task reaches its pause wait
        if control.alive_at is None and seen:
            break
        threading.Event().wait(0.01)
    assert seen == ["woken"] and task.alive()
    assert control.resume("ana") == "ok"
    task.join(GUARD_S)
    assert seen == ["woken", "resumed"]


def test_blocking_calls_run_off_the_scheduler_thread_with_their_result_or_error() -> None:
    scheduler = ChannelScheduler("test")
    got: list[object] = []

    def fails() -> None:
        raise ValueError("no instrument")

    def run() -> None:
        assert current_task() is not None
        here = threading.current_thread().name
        got.append(blocking(lambda: threading.current_thread().name != here))
        try:
            blocking(fails)
        except ValueError as exc:
            got.append(str(exc))

    scheduler.submit(run, "run").join(GUARD_S)
    assert got == [True, "no instrument"]
    assert current_task() is None and blocking(lambda: 7) == 7  # outside a task: here


def test_a_task_that_fails_leaves_the_scheduler_running_and_it_starts_again() -> None:
    scheduler = ChannelScheduler("test")

    def boom() -> None:
        raise SystemExit(3)

    scheduler.submit(boom, "boom").join(GUARD_S)
    done: list[bool] = []
    scheduler.submit(lambda: done.append(True), "next").join(GUARD_S)
    assert done == [True] and scheduler.tasks == 0


PROTOCOL = """\
name = "short"
description = "rest then a charge into a safety limit"
[record]
every = "1 s"
[safety]
voltage_max = "3.6 V"
[[steps]]
type = "rest"
until = { time = "20 s" }
[[steps]]
type = "cc"
current = "10C"
direction = "charge"
until = { time = "10 min" }
"""


def test_runs_on_one_scheduler_end_as_they_do_on_threads(tmp_path: Path) -> None:
    """The same real-time runs, one stopped by the operator: safety stops, checkpoints and
    the operator's stop come out as on a thread of their own."""
    (tmp_path / "short.toml").write_text(PROTOCOL)
    plan = load_plan(str(tmp_path / "short.toml"), "ncm622-coin")
    store = Store.open(f"sqlite:///{tmp_path / 'sched.db'}")
    scheduler = ChannelScheduler("sim")
    reports: dict[int, RunReport] = {}
    controls = [RunControl() for _ in range(4)]

    def drive(n: int) -> None:
        instrument = SimInstrument([plan.cell], realtime=True, speed=50.0, name=f"sim{n}")
        run = store.create_run(plan, operator="test", instrument={}, channel=f"sim{n}:1")
        reports[n] = drive_run(
            store, run, plan, instrument.channels[0], control=controls[n], poll_interval_s=0.05
        )

    try:
        tasks = [scheduler.submit(lambda n=n: drive(n), f"run-{n}") for n in range(4)]  # type: ignore[misc]
        controls[3].stop("ana")
        for task in tasks:
            task.join(GUARD_S)
        assert all(not t.alive() for t in tasks)
        for n in range(3):
            run = reports[n].run
            assert (run.status, run.end_reason) == ("safety_stop", "safety:voltage_max")
            assert [e.kind for e in store.events(run.id)].count("safety") == 1
            samples = store.samples(run.id)
            assert samples["V"][-1] >= 3.6 and (samples["V"][:-1] < 3.6).all()
        stopped = reports[3].run
        assert (stopped.status, stopped.end_reason) == ("stopped", "operator")
    finally:
        store.close()


@pytest.mark.parametrize("requests", [("pause", "resume"), ("pause", "stop")])
def test_a_paused_task_waits_without_its_thread_and_takes_requests(
    tmp_path: Path, requests: tuple[str, str]
) -> None:
    (tmp_path / "short.toml").write_text(PROTOCOL)
    plan = load_plan(str(tmp_path / "short.toml"), "ncm622-coin")
    store = Store.open(f"sqlite:///{tmp_path / 'pause.db'}")
    scheduler = ChannelScheduler("sim")
    control = RunControl()
    reports: list[RunReport] = []
    instrument = SimInstrument([plan.cell], realtime=True, speed=20.0)
    run = store.create_run(plan, operator="test", instrument={}, channel="sim:1")
    try:
        task = scheduler.submit(
            lambda: reports.append(
                drive_run(store, run, plan, instrument.channels[0], control=control,
                          poll_interval_s=0.05)
            ),
            "run",
        )  # fmt: skip
        control.pause("ana")
        for _ in range(6000):
            got = store.get_run(run.id)
            if got is not None and got.status == "paused":
                break
            threading.Event().wait(0.01)
        assert store.get_run(run.id).status == "paused"  # type: ignore[union-attr]
        getattr(control, requests[1])("ana")
        task.join(GUARD_S)
        assert not task.alive()
        final = reports[0].run
        if requests[1] == "resume":
            assert final.status == "safety_stop"
            assert [e.kind for e in store.events(run.id)].count("safety") == 1
        else:
            assert (final.status, final.end_reason) == ("stopped", "operator")
    finally:
        store.close()
