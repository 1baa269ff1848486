"""The daemon in a subprocess against a SQLite file: queue, commands, faults, kill -9."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.cli import main
from cyclerctl.engine.program import total_positions
from cyclerctl.protocol import load_plan
from cyclerctl.store import TERMINAL_STATUSES, RunInfo

from .conftest import SECONDS_PER_CYCLE, DaemonProcess, Lab, sim, wait_for

Start = Callable[[Path], DaemonProcess]


def _ended(lab: Lab, *run_ids: int) -> list[RunInfo] | None:
    runs = [lab.run(r) for r in run_ids]
    return runs if all(r.status in TERMINAL_STATUSES for r in runs) else None


def _status_is(lab: Lab, run_id: int, status: str) -> Callable[[], bool]:
    return lambda: lab.run(run_id).status == status


def test_queue_runs_in_order_and_channels_run_concurrently(lab: Lab, daemons: Start) -> None:
    lab.instruments = [sim("fast", 1), sim("rt", 2, speed=600)]
    queue = [lab.submit("fast:1", cycles=1) for _ in range(3)]
    pair = [lab.submit("rt:1", cycles=1), lab.submit("rt:2", cycles=1)]
    daemon = daemons(lab.config())
    runs = wait_for("every run to end", lambda: _ended(lab, *queue, *pair), timeout=30)
    assert [r.status for r in runs] == ["completed"] * 5, daemon.text()
    first, second, third, a, b = runs
    # one channel: in the order submitted, one after the other
    assert first.ended_at and second.started_at and second.ended_at and third.started_at
    assert first.ended_at <= second.started_at and second.ended_at <= third.started_at
    # two channels: at the same time
    assert a.started_at and b.started_at and a.ended_at and b.ended_at
    assert a.started_at < b.ended_at and b.started_at < a.ended_at
    assert all(r.daemon == lab.name and r.instrument["driver"] == "sim" for r in runs)
    store = lab.store()
    try:
        submits = [c for c in store.commands() if c.kind == "submit"]
    finally:
        store.close()
    assert len(submits) == 5 and all(c.acknowledged_by == lab.name for c in submits)
    assert daemon.terminate() == 0


def test_a_failing_instrument_fails_only_its_own_runs(lab: Lab, daemons: Start) -> None:
    others = [
        sim("flaky", 1, speed=200, extra='options = { fault_after = "1 s" }\n'),
        sim("good", 1, speed=600),
    ]
    # submitted while bad:1 held a cell the simulator knows (submit checks the channel);
    # by the time the daemon starts, the config gives it one it cannot model
    submitted_with = lab.instruments = [sim("bad", 1), *others]
    bad, flaky, good = (lab.submit(ch, cycles=1) for ch in ("bad:1", "flaky:1", "good:1"))
    lab.instruments = [sim("bad", 1, extra='cells = ["unknown-model.toml"]\n'), *others]
    daemon = daemons(lab.config())
    runs = wait_for("the three runs to end", lambda: _ended(lab, bad, flaky, good), timeout=30)
    statuses = {r.channel: (r.status, r.end_reason) for r in runs}
    assert statuses == {
        "bad:1": ("failed", "error:ValueError"),
        "flaky:1": ("failed", "error:ConnectionError"),
        "good:1": ("completed", "completed"),
    }, daemon.text()
    store = lab.store()
    try:
        errors = {
            r: [e.message for e in store.events(r) if e.kind == "error"] for r in (bad, flaky)
        }
        flaky_points = len(store.samples(flaky))
    finally:
        store.close()
    assert any("unknown simulator model 'no-such-model'" in m for m in errors[bad])
    assert any("link to" in m and "lost" in m for m in errors[flaky])
    assert flaky_points > 0  # what it measured before the fault is kept
    # the failed channel takes the next run (and fails it the same way, on its own)
    lab.instruments = submitted_with
    again = lab.submit("bad:1", cycles=1)
    wait_for("the next run on bad:1 to end", lambda: _ended(lab, again))
    assert daemon.terminate() == 0


def test_operator_commands_take_effect_within_two_seconds(
    lab: Lab, daemons: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.instruments = [sim("sim", 2, speed=100)]
    config = str(lab.config())
    run_id = lab.submit("sim:1", cycles=20)
    daemon = daemons(lab.config())
    wait_for("the run to start", _status_is(lab, run_id, "running"))
    wait_for("its first points", lambda: lab.run(run_id) and _latest(lab, "sim:1"))

    def command(kind: str, who: str, status: str) -> float:
        capsys.readouterr()
        issued = time.monotonic()
        assert main([kind, str(run_id), "--operator", who, "--config", config]) == 0, daemon.text()
        assert "acknowledged by lab-daemon: ok" in capsys.readouterr().out
        wait_for(f"status {status}", _status_is(lab, run_id, status), timeout=2.0, every=0.02)
        return time.monotonic() - issued

    assert command("pause", "bob", "paused") < 2.0
    store = lab.store()
    try:
        held = store.last_seq(run_id)
        time.sleep(1.0)  # paused: the cell rests, nothing is logged
        assert store.last_seq(run_id) == held
    finally:
        store.close()
    capsys.readouterr()
    assert main(["status", "--json", "--config", config]) == 0
    shown = json.loads(capsys.readouterr().out)
    row = next(r for r in shown["channels"] if r["channel"] == "sim:1")
    assert row["state"] == "paused" and row["run_id"] == run_id and row["V"] > 0
    assert row["step"] >= 1 and row["cycle"] is not None and row["eta_s"] is not None
    assert shown["daemons"][0]["name"] == lab.name and shown["daemons"][0]["alive"]
    assert command("resume", "bob", "running") < 2.0
    wait_for("points after the resume", lambda: _last_seq(lab, run_id) > held, timeout=5)
    assert command("stop", "carol", "stopped") < 2.0
    run = lab.run(run_id)
    assert run.end_reason == "operator"
    store = lab.store()
    try:
        trail = [(c.kind, c.operator, c.acknowledged_by, c.result) for c in store.commands(run_id)]
        messages = [e.message for e in store.events(run_id) if e.kind == "operator"]
        steps = store.steps(run_id)
    finally:
        store.close()
    assert trail == [
        ("submit", "ana", lab.name, "ok"),
        ("pause", "bob", lab.name, "ok"),
        ("resume", "bob", lab.name, "ok"),
        ("stop", "carol", lab.name, "ok"),
    ]
    assert any("paused by bob" in m for m in messages)
    assert any("resumed by bob" in m for m in messages)
    assert any("stopped by carol" in m for m in messages)
    assert steps[-1].end_reason == "operator"
    assert daemon.terminate() == 0


def _latest(lab: Lab, channel: str) -> bool:
    store = lab.store()
    try:
        return any(r["channel"] == channel and r["V"] is not None for r in store.channel_status())
    finally:
        store.close()


def _last_seq(lab: Lab, run_id: int) -> int:
    store = lab.store()
    try:
        return store.last_seq(run_id)
    finally:
        store.close()


def _check_continuity(lab: Lab, run_id: int, *, cycles: int) -> None:
    """No duplicate, no hole; steps and cycles continue; every step once; a gap per restart."""
    plan = load_plan(lab.protocol, "ncm622-coin", {"cycles": str(cycles)})
    store = lab.store()
    try:
        samples = store.samples(run_id)
        steps = store.steps(run_id)
        events = store.events(run_id)
        checkpoint = store.checkpoint(run_id)
    finally:
        store.close()
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))
    same_step = np.diff(samples["step"]) == 0
    assert np.all(np.diff(samples["t"])[same_step] > 0)  # nothing measured twice
    assert np.all(np.diff(samples["step"]) >= 0) and np.all(np.diff(samples["cycle"]) >= 0)
    assert [s.step for s in steps] == list(range(1, total_positions(plan) + 1))
    assert [s.cycle for s in steps] == [0] + [c for c in range(1, cycles + 1) for _ in range(3)]
    assert all(s.end_reason for s in steps)
    for s in steps:  # each step's points lie inside it, in order
        assert s.first_seq is not None and s.last_seq is not None
        assert np.all(samples["step"][s.first_seq - 1 : s.last_seq] == s.step)
    assert checkpoint is not None and checkpoint.last_seq == len(samples)
    assert events[0].kind == "start"
    return None


def test_kill_9_mid_run_resumes_from_the_checkpoint(lab: Lab, daemons: Start) -> None:
    cycles = 2
    speed = 150.0
    lab.instruments = [sim("sim", 1, speed=speed)]
    run_id = lab.submit("sim:1", cycles=cycles)
    daemon = daemons(lab.config())
    resumed_at: list[int] = []
    for _ in range(3):
        seen = resumed_at[-1] if resumed_at else 0
        wait_for("the run to log", lambda: _last_seq(lab, run_id) > seen + 5)  # noqa: B023
        time.sleep(0.5)
        daemon.kill9()
        resumed_at.append(_last_seq(lab, run_id) + 1)  # committed before the kill
        assert lab.run(run_id).status == "running"
        daemon.start()
    expected_s = 60 + cycles * SECONDS_PER_CYCLE
    run = wait_for("the run to end", lambda: _ended(lab, run_id), timeout=expected_s / speed * 3)
    assert run[0].status == "completed", daemon.text()
    _check_continuity(lab, run_id, cycles=cycles)
    store = lab.store()
    try:
        gaps = [e for e in store.events(run_id) if e.kind == "gap"]
    finally:
        store.close()
    assert [g.data["resumed_at_seq"] for g in gaps] == resumed_at
    assert all(0 < g.data["gap_s"] < 30 for g in gaps)
    assert daemon.text().count("adopted run") == 3
    assert daemon.terminate() == 0


def test_a_clean_stop_leaves_runs_for_the_next_start(lab: Lab, daemons: Start) -> None:
    lab.instruments = [sim("sim", 2, speed=200)]
    run_id = lab.submit("sim:1", cycles=1)
    paused_id = lab.submit("sim:2", cycles=1)
    config = str(lab.config())
    daemon = daemons(lab.config())
    wait_for("points", lambda: _last_seq(lab, run_id) > 5 and _last_seq(lab, paused_id) > 5)
    assert main(["pause", str(paused_id), "--operator", "bob", "--config", config]) == 0
    assert daemon.terminate() == 0
    assert "detaching 2 run(s)" in daemon.text()
    left = lab.run(run_id)
    assert left.status == "running" and left.daemon == lab.name  # still this daemon's
    assert lab.run(paused_id).status == "paused"
    daemon.start()
    wait_for("the running run to end", lambda: _ended(lab, run_id), timeout=20)
    assert lab.run(run_id).status == "completed"
    assert lab.run(paused_id).status == "paused"  # it stays paused across the restart
    assert main(["resume", str(paused_id), "--operator", "bob", "--config", config]) == 0
    wait_for("the paused run to end", lambda: _ended(lab, paused_id), timeout=20)
    assert lab.run(paused_id).status == "completed"
    for r in (run_id, paused_id):
        _check_continuity(lab, r, cycles=1)
    assert daemon.terminate() == 0


def test_a_second_daemon_with_the_same_name_refuses_to_start(lab: Lab, daemons: Start) -> None:
    lab.instruments = [sim("sim", 1)]
    first = daemons(lab.config())
    store = lab.store()
    try:
        wait_for("a heartbeat", lambda: store.daemons())
    finally:
        store.close()
    second = daemons(lab.config())
    assert second.wait(20) == 1
    assert "is already running" in second.text()
    assert first.running()
    assert first.terminate() == 0


def test_a_hung_instrument_stalls_only_its_own_run(
    lab: Lab, daemons: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = 'options = { stall_after = "0.3 s", stall_for = "10 min" }\n'
    lab.instruments = [sim("stuck", 1, speed=100, extra=stuck), sim("good", 1, speed=600)]
    lab.daemon_extra = 'stall_alarm = "1.5 s"'
    config = lab.config()
    hung, fine = lab.submit("stuck:1", cycles=1), lab.submit("good:1", cycles=1)
    daemon = daemons(config)
    wait_for("the good run to end", lambda: _ended(lab, fine), timeout=20)
    assert lab.run(fine).status == "completed" and lab.run(hung).status == "running"
    store = lab.store()
    try:
        alarms = wait_for(
            "a stall alarm", lambda: [e for e in store.events(hung) if e.kind == "stall"]
        )
    finally:
        store.close()
    assert alarms[0].severity == "alarm" and "no answer from stuck:1" in alarms[0].message
    # the daemon itself still answers: the command is acknowledged, the run stays stuck
    assert main(["pause", str(hung), "--operator", "bob", "--config", str(config)]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert daemon.running()
