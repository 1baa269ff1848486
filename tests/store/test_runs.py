"""Runs, statuses, events and results through the Store's direct (non-writer) calls."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cyclerctl.plan import Plan
from cyclerctl.store import EventRecord, Result, RunInfo, Store

from .conftest import INSTRUMENT


def test_create_run_keeps_what_reproduces_it(
    store: Store, plan: Plan, new_run: Callable[..., RunInfo]
) -> None:
    run = new_run()
    assert run.status == "running" and not run.is_completed
    assert run.started_at is not None and run.started_at.tzinfo is not None
    assert run.ended_at is None
    assert len(run.guid) == 36
    assert (run.protocol_name, run.protocol_sha256) == ("ncm622-cycling", "a" * 64)
    assert run.parameters == {"cycles": 2, "rate": "0.1 C"}
    assert run.instrument == INSTRUMENT
    assert run.analysis == {"kind": "cycling"}
    assert store.get_run(run.id) == run
    json.dumps(run.as_dict())  # JSON-friendly

    snapshot = store.run_snapshot(run.id)
    assert snapshot is not None
    assert snapshot["protocol_text"] == plan.protocol_text
    assert snapshot["cell"]["sim"] == {"R0_ohm": 0.02}
    steps = snapshot["plan"]
    assert [s["name"] for s in steps] == ["charge", "rest"]
    assert steps[0]["current_A"] == {"variable": "j", "factor": 1e-4}
    assert steps[0]["ends"][0] == {"kind": "voltage_above", "value": 4.2, "window_s": 0.0}


def test_queued_run_starts_then_ends(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run(status="queued")
    assert run.started_at is None
    assert store.channel_latest() == []  # a queued run does not hold the channel yet

    store.set_status(run.id, "running")
    started = store.get_run(run.id)
    assert started is not None and started.started_at is not None
    assert [row["status"] for row in store.channel_latest()] == ["running"]

    store.set_status(run.id, "paused")
    store.set_status(run.id, "running")
    again = store.get_run(run.id)
    assert again is not None and again.started_at == started.started_at

    store.set_status(run.id, "safety_stop", end_reason="safety:voltage_max")
    ended = store.get_run(run.id)
    assert ended is not None
    assert (ended.status, ended.end_reason, ended.is_completed) == (
        "safety_stop",
        "safety:voltage_max",
        True,
    )
    assert ended.ended_at is not None
    assert store.channel_latest()[0]["status"] == "safety_stop"


def test_status_must_be_known(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    with pytest.raises(ValueError, match="status"):
        store.set_status(run.id, "done")
    with pytest.raises(KeyError):
        store.set_status(run.id + 1, "completed")


def test_list_runs_newest_first(store: Store, new_run: Callable[..., RunInfo]) -> None:
    ids = [new_run(channel=f"ch{i}").id for i in range(3)]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(limit=2)] == ids[:0:-1]


def test_add_event(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    store.add_event(run.id, EventRecord("operator", "stop requested", t=12.5, data={"by": "x"}))
    store.add_event(run.id, EventRecord("safety", "V > 4.45 V", severity="alarm"))
    events = store.events(run.id)
    assert [(e.kind, e.severity, e.t) for e in events] == [
        ("operator", "info", 12.5),
        ("safety", "alarm", None),
    ]
    assert events[0].data == {"by": "x"} and events[0].at.tzinfo is not None
    with pytest.raises(ValueError):
        EventRecord("safety", severity="critical")


def test_save_results_replaces_them_all(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run = new_run()
    store.save_results(
        run.id,
        {
            "capacity_retention": Result(value=0.98),
            "old_only": Result(value=1.0, unit="V"),
        },
        analysis_version="1",
    )
    per_cycle = {"cycle": [1, 2], "discharge_Ah": [2.9e-3, float("nan")]}
    store.save_results(
        run.id,
        {
            "capacity_retention": Result(value=0.97, unit="1", source={"steps": [2, 4]}),
            "per_cycle": Result(data=per_cycle),
        },
        analysis_version="2",
    )
    results = store.results(run.id)
    assert sorted(results) == ["capacity_retention", "per_cycle"]
    retention = results["capacity_retention"]
    assert (retention.value, retention.unit, retention.analysis_version) == (0.97, "1", "2")
    assert retention.source == {"steps": [2, 4]}
    # JSON has no NaN: an unknown value in a table comes back as null
    assert results["per_cycle"].data == {"cycle": [1, 2], "discharge_Ah": [2.9e-3, None]}
    assert store.count("results") == 2


def test_count(store: Store, new_run: Callable[..., RunInfo]) -> None:
    assert store.count("samples") == 0
    new_run()
    assert store.count("runs") == 1
    with pytest.raises(ValueError, match="no table"):
        store.count("runs; DROP TABLE runs")
