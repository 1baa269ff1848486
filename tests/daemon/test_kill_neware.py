"""kill -9 of the daemon, again and again, while a real-time Neware emulator runs the steps.

The emulator is its own process and goes on running the step on board while the daemon is
dead; each new daemon re-attaches to the step (downloading the buffered records after the
last stored one) instead of starting it again, which the cycler would refuse. The run must
end as a run that was never interrupted does, through the same emulator set-up.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.cli import main
from cyclerctl.engine.program import positions
from cyclerctl.protocol import load_plan
from cyclerctl.store import TERMINAL_STATUSES, Result

from .conftest import REPO, DaemonProcess, Lab, wait_for

pytestmark = pytest.mark.slow

Start = Callable[[Path], DaemonProcess]

PROTOCOL = REPO / "protocols" / "ncm622-cycling.toml"
SETTINGS = {"cycles": "4", "formation_cycles": "1", "rest": "2 min"}
#: real time × SPEED: the protocol's ≈ 30 h of cell time in ≈ 55 s (ten kills fit in it
#: on a busy machine; one cycle was too short)
SPEED = 2000
KILLS = 10
SEED = 20261126
#: each step's charge and discharge against the uninterrupted run's (seen: within 0.01 %;
#: a step run twice, or its unwatched part lost, is several %)
PER_STEP = 0.005


def emulator_process(log: Path) -> tuple[subprocess.Popen[str], str]:
    """``cyclerctl emulate neware`` in a subprocess; its address once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cyclerctl", "emulate", "neware", "--listen", "127.0.0.1:0",
         "--cell", "ncm622-coin", "--speed", str(SPEED), "--seed", "7"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"emulator on (\S+:\d+)", line)
    if match is None:
        process.kill()
        pytest.fail(f"the emulator did not start: {line!r} {log.read_text()}")
    return process, match.group(1)


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    started: list[subprocess.Popen[str]] = []

    def start(name: str) -> str:
        process, address = emulator_process(tmp_path / f"emulator-{name}.log")
        started.append(process)
        return address

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def neware(name: str, address: str) -> str:
    return (
        f'[[instruments]]\nname = "{name}"\ndriver = "neware"\naddress = "{address}"\n'
        "channels = 1\noptions = { timeout_s = 10, retries = 3 }\n"
    )


def submit(lab: Lab, config: Path, channel: str) -> int:
    store = lab.store()
    try:
        before = {r.id for r in store.list_runs()}
    finally:
        store.close()
    sets = [arg for k, v in SETTINGS.items() for arg in ("--set", f"{k}={v}")]
    code = main(
        ["submit", str(PROTOCOL), "--cell", "ncm622-coin", *sets, "--channel", channel,
         "--operator", "ana", "--config", str(config)]
    )  # fmt: skip
    assert code == 0
    store = lab.store()
    try:
        (new,) = {r.id for r in store.list_runs()} - before
    finally:
        store.close()
    return int(new)


def last_seq(lab: Lab, run_id: int) -> int:
    store = lab.store()
    try:
        return store.last_seq(run_id)
    finally:
        store.close()


def ended(lab: Lab, run_id: int) -> bool:
    return lab.run(run_id).status in TERMINAL_STATUSES


def results(lab: Lab, run_id: int) -> dict[str, Result]:
    store = lab.store()
    try:
        return store.results(run_id)
    finally:
        store.close()


def test_kill_9_again_and_again_reattaches_to_the_neware_step(
    lab: Lab, daemons: Start, emulators: Callable[[str], str]
) -> None:
    started = time.monotonic()
    killed_lab = lab.config("lab-killed", [neware("nw", emulators("killed"))])
    calm_lab = lab.config("lab-calm", [neware("nwref", emulators("calm"))])
    run_id = submit(lab, killed_lab, "nw:1")
    reference = submit(lab, calm_lab, "nwref:1")
    daemon = daemons(killed_lab)
    calm = daemons(calm_lab)
    rng = random.Random(SEED)
    resumed_at: list[int] = []
    for _ in range(KILLS):
        seen = resumed_at[-1] if resumed_at else 0
        logged = seen + 2
        wait_for("the run to log", lambda: last_seq(lab, run_id) >= logged, timeout=30)  # noqa: B023
        time.sleep(rng.uniform(0.2, 2.0))
        if ended(lab, run_id):
            break
        daemon.kill9()
        resumed_at.append(last_seq(lab, run_id) + 1)
        time.sleep(rng.uniform(0.0, 1.0))  # dead for a while: the emulator goes on
        daemon.start()
    assert len(resumed_at) >= KILLS, "the run ended before it was killed often enough"
    wait_for("both runs to end", lambda: ended(lab, run_id) and ended(lab, reference), timeout=60)
    run, ref = lab.run(run_id), lab.run(reference)
    assert (run.status, ref.status) == ("completed", "completed"), daemon.text()
    assert daemon.text().count("adopted run") == len(resumed_at)

    plan = load_plan(str(PROTOCOL), "ncm622-coin", SETTINGS)
    store = lab.store()
    try:
        samples = store.samples(run_id)
        steps = store.steps(run_id)
        events = store.events(run_id)
        ref_steps = store.steps(reference)
    finally:
        store.close()
    # every point once, no hole; steps and cycles only go forward; nothing measured twice
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))
    assert np.all(np.diff(samples["step"]) >= 0) and np.all(np.diff(samples["cycle"]) >= 0)
    same_step = np.diff(samples["step"]) == 0
    assert np.all(np.diff(samples["t"])[same_step] > 0)
    # each plan position once, in order, as in the uninterrupted run
    walk = [(p.ordinal, p.step.index, p.cycle) for p in positions(plan)]
    assert [(s.step, s.plan_index, s.cycle) for s in steps] == walk
    assert [(s.step, s.plan_index, s.cycle) for s in ref_steps] == walk
    assert all(s.end_reason for s in steps)
    for s in steps:
        assert s.first_seq is not None and s.last_seq is not None
        assert np.all(samples["step"][s.first_seq - 1 : s.last_seq] == s.step)
    gaps = [e for e in events if e.kind == "gap"]
    assert [g.data["resumed_at_seq"] for g in gaps] == resumed_at
    # the same cell through the same emulator: the same results within the noise
    got, want = results(lab, run_id), results(lab, reference)
    compared = 0
    for name, result in want.items():
        if result.value is None:
            continue
        value = got[name].value
        assert value is not None, name
        if name.startswith("ce"):
            assert value == pytest.approx(result.value, abs=0.002), name
            compared += 1
        elif "capacity" in name:
            assert value == pytest.approx(result.value, rel=0.01), name
            compared += 1
    assert compared >= 2, sorted(want)
    table = "\n".join(
        f"{a.step} {a.name}: {a.charge_Ah:.6g}/{b.charge_Ah:.6g} Ah charge, "
        f"{a.discharge_Ah:.6g}/{b.discharge_Ah:.6g} Ah discharge, {a.end_reason}/{b.end_reason}"
        for a, b in zip(steps, ref_steps, strict=True)
    )
    print(table)  # for the log (-s)
    print([(g.data["step"], g.data["step_elapsed_s"]) for g in gaps])
    # each step passed the charge the uninterrupted run's did: nothing counted twice, nothing
    # left out, no step run again. Real time on two emulators: the cells' clocks and the
    # pauses at step boundaries (longer while no daemon lived) differ a little
    assert [s.end_reason for s in steps] == [s.end_reason for s in ref_steps], table
    for a, b in zip(steps, ref_steps, strict=True):
        assert a.charge_Ah == pytest.approx(b.charge_Ah, rel=PER_STEP, abs=1e-9), table
        assert a.discharge_Ah == pytest.approx(b.discharge_Ah, rel=PER_STEP, abs=1e-9), table
    print(f"{len(resumed_at)} kills, {len(samples)} points, {time.monotonic() - started:.1f} s")
    assert daemon.terminate() == 0 and calm.terminate() == 0
