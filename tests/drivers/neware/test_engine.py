"""Whole runs through the driver and the emulator, against the same cells on the simulator.

The must-show: the emulator drops the connection in the middle of a step; the driver logs in
again and downloads the records it missed, and the stored run has no hole and nothing twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.base import Samples, StepProgress
from cyclerctl.drivers.neware import (
    NewareChannel,
    NewareEmulator,
    NewareInstrument,
    open_instrument,
)
from cyclerctl.drivers.neware.link import LoginRefused
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import RunReport, execute_run
from cyclerctl.plan import EndCondition, Plan, Step
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store

FAST_RETRY = {"retries": 4, "retry_initial_s": 0.05, "retry_max_s": 0.2, "timeout_s": 5.0}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


def ncm622() -> Plan:
    return load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "2", "formation_cycles": "1"})


def li_cu() -> Plan:
    return load_plan("li-cu-ce", "li-qse-cu")


def on_simulator(store: Store, plan: Plan) -> RunReport:
    sim = SimInstrument([plan.cell])
    return execute_run(
        store, plan, sim.channels[0], instrument=sim.identity.as_dict(), operator="test"
    )


def connect(emulator: NewareEmulator, **options: Any) -> NewareInstrument:
    return open_instrument(
        emulator.address, {"virtual_time": emulator.virtual_time, **FAST_RETRY, **options}
    )


def through_neware(store: Store, plan: Plan, **emulator_options: Any) -> RunReport:
    emulator = NewareEmulator([plan.cell], **emulator_options)
    instrument = connect(emulator)
    try:
        report = execute_run(
            store,
            plan,
            instrument.channels[0],
            instrument=instrument.identity.as_dict(),
            operator="test",
        )
    finally:
        instrument.close()
        emulator.close()
    assert emulator.unframed == []  # every byte the driver sent was a whole request
    return report


def assert_same_cell_behaviour(store: Store, a: RunReport, b: RunReport) -> None:
    assert b.run.status == "completed", store.events(b.run.id)
    steps_a, steps_b = store.steps(a.run.id), store.steps(b.run.id)
    assert [s.end_reason for s in steps_b] == [s.end_reason for s in steps_a]
    for x, y in zip(steps_a, steps_b, strict=True):
        assert y.charge_Ah == pytest.approx(x.charge_Ah, rel=0.005, abs=1e-12)
        assert y.discharge_Ah == pytest.approx(x.discharge_Ah, rel=0.005, abs=1e-12)


def assert_no_hole_and_nothing_twice(samples: np.ndarray, record_interval_s: float) -> None:
    """A CC-CV step runs as a CC then a CV step on board, each recording on its own grid
    from its start: across that switch two stored points may lie up to two intervals apart
    (the engine's record criteria drop a point just after the last CC one)."""
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))
    for step in np.unique(samples["step"]):
        t = samples["t"][samples["step"] == step]
        assert np.all(np.diff(t) > 0), f"step {step}: a point twice"
        gaps = np.diff(t) > record_interval_s + 1e-6
        assert gaps.sum() <= 1, f"step {step}: a hole"
        assert np.diff(t).max() <= 2 * record_interval_s, f"step {step}: a hole"
    assert np.all(np.diff(samples["t"]) >= 0)


class BlockSizes:
    """A channel that remembers how many records each read brought."""

    def __init__(self, channel: NewareChannel) -> None:
        self.channel = channel
        self.sizes: list[int] = []
        self.name, self.capabilities = channel.name, channel.capabilities

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self.channel.start_step(step, progress)

    def read(self) -> Samples:
        samples = self.channel.read()
        self.sizes.append(len(samples.points))
        return samples

    def stop(self) -> None:
        self.channel.stop()


def test_ncm622_cycling_matches_the_simulator(store: Store) -> None:
    plan = ncm622()
    a = on_simulator(store, plan)
    b = through_neware(store, plan)
    assert_same_cell_behaviour(store, a, b)
    ra, rb = store.results(a.run.id), store.results(b.run.id)
    for name in ("first_discharge_capacity_mAh_g", "capacity_retention"):
        assert rb[name].value == pytest.approx(ra[name].value, rel=0.005)
    assert rb["mean_ce"].value == pytest.approx(ra["mean_ce"].value, abs=0.001)
    assert b.run.instrument["driver"] == "neware"


def test_li_cu_average_ce_matches_the_simulator(store: Store) -> None:
    plan = li_cu()
    a = on_simulator(store, plan)
    b = through_neware(store, plan)
    assert_same_cell_behaviour(store, a, b)
    ra, rb = store.results(a.run.id), store.results(b.run.id)
    assert rb["ce_avg"].value == pytest.approx(ra["ce_avg"].value, abs=0.001)
    for name in ("reservoir_charge_mAh", "final_strip_charge_mAh"):
        assert rb[name].value == pytest.approx(ra[name].value, rel=0.005)


SHORT = """\
name = "short"
description = "rest, charge, rest"
[record]
every = "1 s"
[[steps]]
type = "rest"
until = { time = "30 s" }
[[steps]]
type = "cc"
current = "C/2"
until = { time = "300 s" }
[[steps]]
type = "rest"
until = { time = "30 s" }
"""


def test_a_connection_lost_mid_step_costs_no_record_in_real_time(
    store: Store, tmp_path: Path
) -> None:
    """THE MUST-SHOW. 100 s into the charge step the link goes down for a second (100 s of
    the cell at ×100) while the cycler keeps recording; the driver reconnects with its
    backoff (0.2, 0.4, 0.8 s …) and downloads the gap from the last sequence number."""
    protocol = tmp_path / "short.toml"
    protocol.write_text(SHORT)
    plan = load_plan(str(protocol), "ncm622-coin")
    emulator = NewareEmulator([plan.cell], virtual_time=False, speed=100.0)
    instrument = connect(emulator, retries=6, retry_initial_s=0.2, retry_max_s=5.0)
    channel = BlockSizes(instrument.channels[0])
    reports: list[RunReport] = []
    run = threading.Thread(
        target=lambda: reports.append(
            execute_run(
                store, plan, channel, instrument=instrument.identity.as_dict(), operator="test"
            )
        )
    )
    try:
        run.start()
        deadline = time.monotonic() + 30
        while emulator.channel_state("1-1-1")[1:] < (2, 100):  # 100 records into test 2
            assert time.monotonic() < deadline, "the charge step never got going"
            time.sleep(0.01)
        emulator.drop_connection_after(0, refuse_for_s=1.0)
        run.join(timeout=60)
    finally:
        instrument.close()
        emulator.close()
    (report,) = reports
    assert report.run.status == "completed", store.events(report.run.id)
    assert emulator.drops == [{"1-1-1": "working"}]  # it went down in the middle of a step
    assert instrument.link.reconnects >= 2  # refused at least once: the backoff was used
    assert emulator.connections == 2
    # a poll brings ~50 records (0.5 s × 100); the one after the outage brought the gap
    assert max(channel.sizes) > 100
    samples = store.samples(report.run.id)
    assert_no_hole_and_nothing_twice(samples, record_interval_s=1.0)
    assert samples["t"][-1] == pytest.approx(360.0, abs=1e-6)
    assert [s.end_reason for s in store.steps(report.run.id)] == ["time"] * 3


def test_a_connection_lost_mid_step_changes_nothing_in_virtual_time(store: Store) -> None:
    """Dropped with a download unanswered (its records already made): the same records come
    again on the new connection, so the stored run equals an undisturbed one exactly."""
    plan = ncm622()
    calm = through_neware(store, plan)
    emulator = NewareEmulator([plan.cell])
    instrument = connect(emulator)
    try:
        emulator.drop_connection_after(2)  # start, a download, then the next download
        rough = execute_run(
            store, plan, instrument.channels[0], instrument=instrument.identity.as_dict(),
            operator="test",
        )  # fmt: skip
    finally:
        instrument.close()
        emulator.close()
    assert rough.run.status == "completed"
    assert emulator.drops == [{"1-1-1": "working"}] and instrument.link.reconnects == 1
    a, b = store.samples(calm.run.id), store.samples(rough.run.id)
    for column in ("seq", "t", "V", "I", "Q", "step", "cycle"):
        assert np.array_equal(a[column], b[column]), column
    assert_no_hole_and_nothing_twice(b, record_interval_s=10.0)


def test_two_runs_on_two_channels_share_one_socket(store: Store) -> None:
    plans = [ncm622(), li_cu()]
    alone = [on_simulator(store, p) for p in plans]
    emulator = NewareEmulator([p.cell for p in plans])
    instrument = connect(emulator)
    reports: dict[int, RunReport] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            reports[i] = execute_run(
                store, plans[i], instrument.channels[i],
                instrument=instrument.identity.as_dict(), operator="test",
            )  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        instrument.close()
        emulator.close()
    assert not errors
    assert emulator.connections == 1 and instrument.link.reconnects == 0
    for i in range(2):
        assert reports[i].run.channel == f"neware:1-1-{i + 1}"
        assert_same_cell_behaviour(store, alone[i], reports[i])
    ce_alone = store.results(alone[1].run.id)["ce_avg"].value
    assert store.results(reports[1].run.id)["ce_avg"].value == pytest.approx(ce_alone, abs=0.001)


def test_a_dead_cycler_is_waited_for_then_the_run_ends_with_a_clear_reason(
    store: Store,
) -> None:
    plan = ncm622()
    emulator = NewareEmulator([plan.cell])
    instrument = connect(emulator)
    emulator.drop_connection_after(30, refuse_for_s=3600.0)
    try:
        report = execute_run(
            store, plan, instrument.channels[0], instrument=instrument.identity.as_dict(),
            operator="test", instrument_lost_after_s=2.0,
        )  # fmt: skip
    finally:
        instrument.close()
        emulator.close()
    # the step went on on board: the engine waited for the cycler, then gave up with a reason
    assert report.run.status == "failed" and report.run.end_reason == "instrument:lost"
    alarms = [e for e in store.events(report.run.id) if e.kind == "instrument"]
    assert alarms and all(emulator.address in e.message for e in alarms)
    assert "no answer after 5 tries" in alarms[0].message
    assert alarms[0].data["link_lost"] is True
    samples = store.samples(report.run.id)
    assert len(samples) > 0
    assert np.array_equal(samples["seq"], np.arange(1, len(samples) + 1))


def test_an_unreachable_cycler_raises_after_the_retries() -> None:
    emulator = NewareEmulator([ncm622().cell])
    instrument = connect(emulator, retries=2)
    channel = instrument.channels[0]
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 60.0),)))
    emulator.close()
    with pytest.raises(ConnectionError, match="no answer after 3 tries"):
        channel.read()
    instrument.close()  # cannot stop the channel, and says nothing


def test_a_wrong_password_is_refused_at_once() -> None:
    emulator = NewareEmulator([ncm622().cell], password="secret")
    try:
        with pytest.raises(LoginRefused, match="refused user 'admin'"):
            connect(emulator)
        instrument = connect(emulator, password="secret")
        assert instrument.identity.firmware == "cyclerctl BTS emulator"
        instrument.close()
    finally:
        emulator.close()
