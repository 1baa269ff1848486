"""Whole protocols through the engine, the SourceMeter driver, pyvisa-py, loopback TCP and the
emulator, compared with the same protocol on the simulator standing in for an SMU.

The SourceMeter ends nothing itself: the engine ends every step (time included) on the
streamed points, exactly as with ``SimInstrument(native_end_conditions={"time"})`` except
for time. The emulator runs in virtual time: each :READ? is a burst of 10 one-second points.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.drivers.registry import driver
from cyclerctl.drivers.scpi import open_instrument, start_emulator
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.drivers.sim.dummy import dummy_cell
from cyclerctl.engine.session import RunReport, execute_run
from cyclerctl.plan import Plan, Step
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store


@pytest.fixture
def store(db_url: str) -> Store:
    return Store.open(db_url)


def _on_the_simulator(store: Store, plan: Plan) -> RunReport:
    sim = SimInstrument([plan.cell], native_end_conditions=frozenset({"time"}))
    return execute_run(
        store, plan, sim.channels[0], instrument=sim.identity.as_dict(), operator="test"
    )


def _through_visa(store: Store, plan: Plan) -> tuple[RunReport, float]:
    """The run, and how many points per second crossed the VISA link."""
    window = max(abs(limit.value) for limit in plan.safety if limit.quantity.startswith("voltage"))
    options = {"virtual_time": True, "voltage_limit_V": window}
    with start_emulator([plan.cell], "127.0.0.1", 0, options) as emulator:
        instrument = open_instrument(emulator.address, options)
        try:
            assert instrument.identity.serial == "EMU0001"
            started = time.perf_counter()
            report = execute_run(
                store, plan, instrument.channels[0],
                instrument=instrument.identity.as_dict(), operator="test",
            )
            elapsed = time.perf_counter() - started
        finally:
            instrument.close()
    points = report.outcome.run_time_s  # one point per simulated second
    return report, points / elapsed


def _same_steps(store: Store, a: RunReport, b: RunReport) -> None:
    steps_a, steps_b = store.steps(a.run.id), store.steps(b.run.id)
    assert [s.end_reason for s in steps_b] == [s.end_reason for s in steps_a]
    for x, y in zip(steps_a, steps_b, strict=True):
        assert y.charge_Ah == pytest.approx(x.charge_Ah, rel=0.01, abs=1e-9), x.name
        assert y.discharge_Ah == pytest.approx(x.discharge_Ah, rel=0.01, abs=1e-9), x.name


@pytest.mark.slow
def test_ncm622_cycling_through_visa_matches_the_simulator(store: Store) -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "1", "formation_cycles": "1"})
    reference = _on_the_simulator(store, plan)
    report, points_per_s = _through_visa(store, plan)
    print(f"ncm622-cycling: {report.outcome.run_time_s:.0f} points at {points_per_s:.0f}/s")
    assert report.run.status == "completed" and report.run.end_reason == "completed"
    _same_steps(store, reference, report)
    a, b = store.results(reference.run.id), store.results(report.run.id)
    for name in ("first_discharge_capacity_mAh_g", "first_discharge_capacity_mAh"):
        assert b[name].value == pytest.approx(a[name].value, rel=0.01)
    assert b["mean_ce"].value == pytest.approx(a["mean_ce"].value, abs=0.001)
    assert b["cycles_completed"].value == a["cycles_completed"].value == 2
    assert report.run.instrument["model"] == "2400"
    samples = store.samples(report.run.id)
    assert samples["V"].max() <= 4.3 + 0.002  # the CC phase's compliance held V at the set point


@pytest.mark.slow
def test_li_cu_coulombic_efficiency_through_visa_matches_the_simulator(store: Store) -> None:
    plan = load_plan("li-cu-ce", "li-qse-cu", {"cycles": "2"})
    reference = _on_the_simulator(store, plan)
    report, points_per_s = _through_visa(store, plan)
    print(f"li-cu-ce: {report.outcome.run_time_s:.0f} points at {points_per_s:.0f}/s")
    assert report.run.status == "completed"
    _same_steps(store, reference, report)
    a, b = store.results(reference.run.id), store.results(report.run.id)
    assert b["ce_avg"].value == pytest.approx(a["ce_avg"].value, abs=0.002)
    assert b["ce_avg"].value == pytest.approx(0.98, abs=0.002)  # the cell file's CE


def _short_protocol(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(
        'name = "short"\ndescription = "rest, a short charge, a hold"\n'
        '[record]\nevery = "1 s"\n[safety]\nvoltage_max = "4.4 V"\n'
        '[[steps]]\ntype = "rest"\nuntil = { time = "20 s" }\n'
        '[[steps]]\ntype = "cc"\ncurrent = "C/10"\nuntil = { time = "40 s" }\n'
        '[[steps]]\ntype = "cv"\nvoltage = "3.5 V"\nuntil = { time = "30 s" }\n'
    )
    return path


def test_the_registry_opens_an_emulated_sourcemeter_in_process(
    store: Store, tmp_path: Path
) -> None:
    """``--driver scpi --address emulated``: the driver starts its own emulator."""
    plan = load_plan(str(_short_protocol(tmp_path)), "ncm622-coin")
    instrument = driver("scpi").open_instrument(
        "emulated", {"virtual_time": True, "emulated_cells": [plan.cell], "current_limit_A": 1e-4}
    )
    try:
        report = execute_run(
            store, plan, instrument.channels[0],
            instrument=instrument.identity.as_dict(), operator="test",
        )
    finally:
        instrument.close()
    assert report.run.status == "completed"
    steps = store.steps(report.run.id)
    assert [s.end_reason for s in steps] == ["time", "time", "time"]
    samples = store.samples(report.run.id)
    assert samples["t"][-1] == pytest.approx(90.0)
    hold = samples[samples["step"] == steps[-1].step]
    # 0.1 mA cannot pull the cell up to 3.5 V in 30 s: the hold stays at its current limit
    assert hold["I"] == pytest.approx(1e-4, rel=0.01)
    assert hold["V"].max() < 3.5


def test_real_time_follows_the_wall_clock_times_speed(store: Store, tmp_path: Path) -> None:
    plan = load_plan(str(_short_protocol(tmp_path)), "ncm622-coin")
    with start_emulator([plan.cell], "127.0.0.1", 0, {"speed": 40.0}) as emulator:
        instrument = open_instrument(emulator.address, {"voltage_limit_V": 4.4})
        try:
            assert not instrument.channels[0].capabilities.virtual_time
            started = time.perf_counter()
            report = execute_run(
                store, plan, instrument.channels[0],
                instrument=instrument.identity.as_dict(), operator="test",
            )
            elapsed = time.perf_counter() - started
        finally:
            instrument.close()
    assert report.run.status == "completed"
    assert [s.end_reason for s in store.steps(report.run.id)] == ["time", "time", "time"]
    # 90 s of protocol at 40× is 2.25 s; each step ends on the first poll past its time
    assert 2.0 < elapsed < 15.0
    assert 90.0 <= report.outcome.run_time_s < 90.0 + 3 * 0.5 * 40 + 3


def test_a_30_hour_charge_ends_on_its_voltage_across_the_timestamps_wrap(
    store: Store, tmp_path: Path
) -> None:
    """Issue 14: the 2400's TIME element starts over after 99 999.999 s (27.8 h). A C/32
    charge of an NCM622 coin cell takes 32 h: through the emulator (virtual time, 10 s
    readings) the step must go on past the wrap and end on its voltage, not hang."""
    path = tmp_path / "slow-charge.toml"
    path.write_text(
        'name = "slow-charge"\ndescription = "one charge longer than the timestamp period"\n'
        '[record]\nevery = "60 s"\n[safety]\nvoltage_max = "4.4 V"\n'
        '[[steps]]\ntype = "cc"\ncurrent = "C/32"\n'
        'until = { voltage_above = "4.3 V", time = "40 h" }\n'
    )
    plan = load_plan(str(path), "ncm622-coin")
    options = {"virtual_time": True, "voltage_limit_V": 4.4, "sample_interval_s": 10.0}
    with start_emulator([plan.cell], "127.0.0.1", 0, options) as emulator:
        # a driver that lost its time at the wrap would read on for ever: after 4× the
        # reads the charge needs (~1 200), an operator's stop ends the run (and the test)
        give_up = threading.Event()
        emulator.after_reads(5000, give_up.set)
        instrument = open_instrument(emulator.address, options)
        try:
            report = execute_run(
                store, plan, instrument.channels[0],
                instrument=instrument.identity.as_dict(), operator="test",
                stop_request=give_up,
            )
        finally:
            instrument.close()
    assert report.run.status == "completed"
    (step,) = store.steps(report.run.id)
    assert step.end_reason == "limit:voltage"
    samples = store.samples(report.run.id)
    t = samples["t"]
    assert t[-1] > 100_000.0  # past the wrap: 32 h of charge
    assert t[-1] < 40 * 3600.0  # not ended by its time guard
    assert np.all(np.diff(t) > 0)  # monotonic across the wrap
    assert samples["V"][-1] == pytest.approx(4.3, abs=0.005)
    # the charge passed is the current times the whole step time, wrap or not
    assert samples["Q"][-1] == pytest.approx(plan.steps[0].current_A * t[-1], rel=1e-3)


@pytest.mark.parametrize(("miscale", "amps_per_reported_unit"), [(None, 1.0), ("current_mA", 1e-3)])
def test_the_driver_on_an_emulated_dummy_load_sees_ohms_law_or_the_miscale(
    miscale: str | None, amps_per_reported_unit: float
) -> None:
    """Commissioning through the registry's ``emulated`` address: 1 kΩ on the terminals,
    ±0.5 mA. V = I·R holds for an honest instrument; the mis-scaled one reports the current
    1000× too big, which is the line a commissioning check fails on."""
    options = {
        "virtual_time": True,
        "emulated_cells": [dummy_cell(1000.0)],
        "voltage_limit_V": 1.0,
        **({"miscale": miscale} if miscale else {}),
    }
    instrument = driver("scpi").open_instrument("emulated", options)
    try:
        channel = instrument.channels[0]
        readings = {}
        for current in (5e-4, -5e-4):
            channel.start_step(Step(0, "cc", "cc", current_A=current))
            readings[current] = channel.read().points
            channel.stop()
    finally:
        instrument.close()
    for current, points in readings.items():
        assert points["V"] == pytest.approx(current * 1000.0, abs=1e-4)  # V is right either way
        assert points["I"] * amps_per_reported_unit == pytest.approx(current, rel=1e-4)
        resistance = points["V"] / points["I"]
        assert resistance == pytest.approx(1000.0 * amps_per_reported_unit, rel=1e-3)
