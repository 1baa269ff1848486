"""Dry run: `ncm622-cycling` on the simulator in virtual time, into a real SQLite file.

Baseline in the same process: the simulator alone executing the same bound steps with no
engine and no store (what the physics costs), so the ratio shows what the engine, the
record criteria and the database add on top of it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from cyclerctl.engine.program import positions
from cyclerctl.engine.session import execute_run
from cyclerctl.instruments import open_simulator
from cyclerctl.plan import Plan
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store


def simulator_only(plan: Plan) -> tuple[float, int]:
    """Wall seconds and raw points for the simulator alone running every step of the plan."""
    instrument = open_simulator([plan.cell]).instrument
    channel = instrument.channels[0]
    points = 0
    start = time.perf_counter()
    for position in positions(plan):
        channel.start_step(position.step)
        while True:
            samples = channel.read()
            points += len(samples.points)
            if samples.ended:
                break
    elapsed = time.perf_counter() - start
    instrument.close()
    return elapsed, points


def full_run(plan: Plan, directory: Path) -> tuple[float, int, dict[str, float | None]]:
    store = Store.open(f"sqlite:///{directory / 'bench.db'}")
    instrument = open_simulator([plan.cell]).instrument
    start = time.perf_counter()
    report = execute_run(
        store,
        plan,
        instrument.channels[0],
        instrument=instrument.identity.as_dict(),
        operator="bench",
    )
    elapsed = time.perf_counter() - start
    results = {k: r.value for k, r in store.results(report.run.id).items()}
    stored = store.count("samples")
    store.close()
    instrument.close()
    assert report.run.status == "completed", report.run
    return elapsed, stored, results


def run(cycles: int) -> list[tuple[str, str]]:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": str(cycles)})
    base_s, raw_points = simulator_only(plan)
    with tempfile.TemporaryDirectory() as tmp:
        full_s, stored, results = full_run(plan, Path(tmp))
    retention = results.get("capacity_retention")
    return [
        (f"dry run ncm622-cycling, {cycles} cycles + formation: wall s", f"{full_s:.2f}"),
        ("  baseline: simulator alone, same steps: wall s", f"{base_s:.2f}"),
        ("  ratio full / simulator alone", f"{full_s / base_s:.2f}"),
        ("  raw points simulated / points stored", f"{raw_points} / {stored}"),
        ("  stored points per wall second", f"{stored / full_s:,.0f}"),
        ("  capacity_retention", f"{retention:.4f}" if retention is not None else "-"),
    ]
