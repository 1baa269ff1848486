"""The two checks that go through the engine, as a real run would: record criteria kept in
what is stored, and a safety limit that stops the channel. Each is a tiny protocol compiled
by the ordinary loader (so the harm checks see it too) and run by ``execute_run`` into a
store: a throwaway SQLite file unless the caller gives one, so the lab's database keeps a
record of the commissioning when it asks for it.
"""

from __future__ import annotations

import numpy as np

from cyclerctl.drivers.base import Channel
from cyclerctl.engine.recording import EVERY_TOLERANCE
from cyclerctl.engine.session import execute_run
from cyclerctl.protocol.compiler import plan_from_texts
from cyclerctl.store import Store

from .checks import Check, Schedule

RECORD_EVERY_S = 2.0
RECORD_STEP_S = 8.0
SAFETY_FRACTION = 0.5  # the limit, as a fraction of the voltage the held current gives


def _protocol(name: str, seq: Schedule, *, safety_V: float, seconds: float) -> str:
    return f"""
name = "commission-{name}"
description = "commissioning: {name} on a dummy load"

[record]
every = "{RECORD_EVERY_S!r} s"

[safety]
voltage_min = "{-safety_V!r} V"
voltage_max = "{safety_V!r} V"

[[steps]]
type = "cc"
name = "{name}"
current = "{seq.current_A!r} A"
until = {{ time = "{seconds!r} s" }}
"""


def record_and_safety(
    channel: Channel, seq: Schedule, store: Store, *, instrument: dict[str, str], operator: str
) -> list[Check]:
    cell = seq.dummy.cell_toml(seq.limits.voltage_V, seq.limits.current_A)
    checks = []
    plan = plan_from_texts(
        _protocol("record", seq, safety_V=seq.limits.voltage_V, seconds=RECORD_STEP_S), cell
    )
    report = execute_run(store, plan, channel, instrument=instrument, operator=operator)
    checks.append(_record_check(store, report.run.id, report.run.status))
    limit = SAFETY_FRACTION * seq.voltage_V
    plan = plan_from_texts(
        _protocol("safety", seq, safety_V=limit, seconds=RECORD_STEP_S), cell
    )
    report = execute_run(store, plan, channel, instrument=instrument, operator=operator)
    checks.append(_safety_check(store, report.run.id, report.run.status, limit))
    return checks


def _record_check(store: Store, run_id: int, status: str) -> Check:
    samples = store.samples(run_id)
    gaps = np.diff(samples["t"])[:-1]  # the step's last point is stored whatever the gap
    expected = f"gaps ≥ {RECORD_EVERY_S:g} s, median ≤ {1.5 * RECORD_EVERY_S:g} s"
    if status != "completed" or len(gaps) < 2:
        return Check("record_criteria", "stored points follow [record] every", expected,
                     f"run {status}, {len(samples)} points", "fail")
    shortest, median = float(gaps.min()), float(np.median(gaps))
    ok = shortest >= RECORD_EVERY_S * (1 - EVERY_TOLERANCE) and median <= 1.5 * RECORD_EVERY_S
    return Check(
        "record_criteria", "stored points follow [record] every", expected,
        f"{len(samples)} points, gaps {shortest:.3g}…{float(gaps.max()):.3g} s, "
        f"median {median:.3g} s",
        "pass" if ok else "fail",
        "" if ok else (
            "points stored closer than asked" if shortest < RECORD_EVERY_S * (1 - EVERY_TOLERANCE)
            else "the instrument delivers points too rarely for the asked interval"
        ),
    )


def _safety_check(store: Store, run_id: int, status: str, limit_V: float) -> Check:
    run = store.get_run(run_id)
    reason = run.end_reason if run is not None else None
    events = [e for e in store.events(run_id) if e.kind == "safety"]
    samples = store.samples(run_id)
    over = samples["V"] > limit_V
    after = int(len(samples) - np.argmax(over) - 1) if over.any() else -1
    ok = status == "safety_stop" and reason == "safety:voltage_max" and bool(events)
    return Check(
        "safety_trip", "a voltage limit stops the channel",
        f"safety_stop (safety:voltage_max) at {limit_V * 1e3:.4g} mV",
        f"{status} ({reason}), {after} point(s) stored after the breach",
        "pass" if ok else "fail",
    )
