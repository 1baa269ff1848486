"""Safety limits through the real stack: config hard limits (read from a config file), a
protocol that tries to widen them, the engine, and a host-sequenced SourceMeter over
pyvisa-py/TCP (or the simulator with a chamber on a pty, for temperature).

Each breach must stop the channel within the sample block that shows it (the instrument is
told "output off" before it is read again), record a ``safety`` event, end the run
``safety_stop`` and show in ``cyclerctl status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.cli import main
from cyclerctl.config import Config, load_config
from cyclerctl.drivers.chamber import ChamberEmulator, SerialChamber
from cyclerctl.drivers.scpi import open_instrument, start_emulator
from cyclerctl.drivers.scpi.driver import SourceMeterInstrument
from cyclerctl.drivers.scpi.emulator import ScpiEmulator
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import RunReport, execute_run
from cyclerctl.plan import ChamberSettings, EndCondition, Plan, SafetyLimit
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store

from ..engine.factory import CELL, plan, step

OPTIONS = {"virtual_time": True, "timeout_s": 2.0, "voltage_limit_V": 5.0, "seed": 3}
ONE_C = 1.979e-4  # A: 1C of the factory's cell (0.1979 mAh)


def _config(tmp_path: Path, db_url: str, instrument: str, limits: str) -> Config:
    path = tmp_path / "cyclerctl.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        f"[[instruments]]\n{instrument}\n\n[instruments.limits]\n{limits}\n"
    )
    return load_config(str(path))


@dataclass
class Smu:
    emulator: ScpiEmulator
    instrument: SourceMeterInstrument

    def run(self, store: Store, the_plan: Plan, config: Config) -> RunReport:
        return execute_run(
            store,
            the_plan,
            self.instrument.channels[0],
            instrument=self.instrument.identity.as_dict(),
            operator="ana",
            hard_limits=config.instruments[0].limits,
        )

    def stopped_within_the_block(self) -> None:
        """The last :READ? (the block with the breach) is followed by output off, and the
        instrument's output is off now."""
        lines = list(self.emulator.requests)
        last_read = max(i for i, line in enumerate(lines) if line == ":READ?")
        assert ":OUTP OFF" in lines[last_read:]
        assert self.emulator.instrument.handle(":OUTP?") == "0"


@pytest.fixture
def smu() -> Iterator[Smu]:
    emulator = start_emulator([CELL], "127.0.0.1", 0, OPTIONS)
    instrument = open_instrument(emulator.address, OPTIONS)
    try:
        yield Smu(emulator, instrument)
    finally:
        instrument.close()
        emulator.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def _status_shows(
    config_path: Path, capsys: pytest.CaptureFixture[str], channel: str, *parts: str
) -> None:
    capsys.readouterr()
    assert main(["status", "--config", str(config_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(channel)]
    assert any(all(p in line for p in parts) for line in lines), lines


def _breach(store: Store, report: RunReport, quantity: str, value: float) -> dict[str, object]:
    assert report.run.status == "safety_stop"
    assert report.run.end_reason == f"safety:{quantity}"
    (event,) = [e for e in store.events(report.run.id) if e.kind == "safety"]
    assert event.severity == "alarm"
    assert event.data["limit"] == quantity
    assert event.data["value"] == pytest.approx(value)  # the config's, not the protocol's
    return dict(event.data)


CASES = {
    # quantity: (config limit, protocol's wider limit, the step that crosses it, breached?)
    "voltage_max": (
        'voltage_max = "4.1 V"',
        (SafetyLimit("voltage_max", 4.4),),
        step("charge", "cc", current_A=ONE_C, ends=(EndCondition("voltage_above", 4.3),)),
        4.1,
    ),
    "voltage_min": (
        'voltage_min = "2.9 V"',  # the cell rests at 3.0 V (discharged)
        (SafetyLimit("voltage_min", 2.0),),
        step("discharge", "cc", current_A=-ONE_C, ends=(EndCondition("voltage_below", 2.5),)),
        2.9,
    ),
    "current_max": (
        'current_max = "0.1 mA"',
        (SafetyLimit("current_max", 0.05),),
        step("charge", "cc", current_A=ONE_C, ends=(EndCondition("time", 3600.0),)),
        1e-4,
    ),
}


@pytest.mark.parametrize("quantity", list(CASES))
def test_a_hard_limit_crossed_stops_the_channel_within_the_block(
    quantity: str,
    smu: Smu,
    store: Store,
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    limit_line, protocol_limits, crossing, value = CASES[quantity]
    config = _config(
        tmp_path, db_url, f'name = "smu"\ndriver = "scpi"\naddress = "{smu.emulator.address}"',
        limit_line,
    )  # fmt: skip
    the_plan = plan(
        step("ocv", "rest", ends=(EndCondition("time", 20.0),)),
        crossing,
        step("after", "rest", ends=(EndCondition("time", 20.0),)),
        safety=protocol_limits,  # wider than the config's: it must not win
    )
    report = smu.run(store, the_plan, config)
    data = _breach(store, report, quantity, value)
    samples = store.samples(report.run.id)
    measured = np.abs(samples["I"]) if quantity == "current_max" else samples["V"]
    outside = measured < value if quantity == "voltage_min" else measured > value
    # the first point past the limit is the last point stored: nothing after the breach
    assert outside[-1] and not outside[:-1].any()
    assert data["measured"] == pytest.approx(float(measured[-1]))
    assert [s.end_reason for s in store.steps(report.run.id)] == ["time", f"safety:{quantity}"]
    smu.stopped_within_the_block()
    _status_shows(
        tmp_path / "cyclerctl.toml", capsys, "smu:1", "safety_stop", f"safety:{quantity}",
        "breached",
    )  # fmt: skip


def test_a_narrower_protocol_limit_still_applies(smu: Smu, store: Store, tmp_path: Path,
                                                 db_url: str) -> None:  # fmt: skip
    config = _config(
        tmp_path, db_url, f'name = "smu"\ndriver = "scpi"\naddress = "{smu.emulator.address}"',
        'voltage_max = "4.4 V"',
    )  # fmt: skip
    the_plan = plan(
        step("charge", "cc", current_A=ONE_C, ends=(EndCondition("voltage_above", 4.3),)),
        safety=(SafetyLimit("voltage_max", 4.0),),
    )
    report = smu.run(store, the_plan, config)
    _breach(store, report, "voltage_max", 4.0)
    smu.stopped_within_the_block()


def test_the_chamber_over_a_serial_line_trips_the_temperature_limit(
    store: Store, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The protocol asks for 70 °C; the config says 50 °C at most: the run stops at the
    first point above 50 °C while the chamber heats, with the cell at rest."""
    config = _config(
        tmp_path, db_url, 'name = "sim"\ndriver = "sim"', 'temperature_max = "50 degC"'
    )
    the_plan = plan(
        step(
            "heat", "rest",
            chamber=ChamberSettings(setpoint_K=343.15, tolerance_K=1.0, soak_s=600.0,
                                    timeout_s=4 * 3600.0),
        ),
        safety=(SafetyLimit("temperature_max", 363.15),),
    )  # fmt: skip
    instrument = SimInstrument([CELL], chamber=True, name="sim")
    assert instrument.chamber is not None
    with ChamberEmulator(instrument.chamber) as emulator:
        chamber = SerialChamber(emulator.address, timeout=1.0)
        try:
            report = execute_run(
                store, the_plan, instrument.channels[0],
                instrument=instrument.identity.as_dict(), operator="ana",
                hard_limits=config.instruments[0].limits, chamber=chamber,
            )  # fmt: skip
        finally:
            chamber.close()
        assert any("S70.0" in line for line in emulator.requests)
    data = _breach(store, report, "temperature_max", 323.15)
    T = store.samples(report.run.id)["T"]
    assert T[-1] > 323.15 and not (T[:-1] > 323.15).any()
    assert data["measured"] == pytest.approx(float(T[-1]))
    _status_shows(
        tmp_path / "cyclerctl.toml", capsys, "sim:1", "safety_stop", "safety:temperature_max"
    )


def test_a_cell_that_shorts_is_stopped_within_the_block(
    store: Store, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """ccd-ramp on a Li|Li cell behind the SourceMeter: the current density rises until the
    cell shorts; the engine sees the collapse, stops the output, records the short."""
    the_plan = load_plan("ccd-ramp", "li-qse-li")
    config = _config(tmp_path, db_url, 'name = "smu"\ndriver = "scpi"\naddress = "x"', "")
    emulator = start_emulator([the_plan.cell], "127.0.0.1", 0, OPTIONS)
    instrument = open_instrument(emulator.address, OPTIONS)
    smu = Smu(emulator, instrument)
    try:
        report = smu.run(store, the_plan, config)
        smu.stopped_within_the_block()
    finally:
        instrument.close()
        emulator.close()
    assert report.run.end_reason == "short"
    (short,) = [e for e in store.events(report.run.id) if e.kind == "short"]
    assert short.severity == "alarm" and "short detected" in short.message
    steps = store.steps(report.run.id)
    assert steps[-1].end_reason == "short"
    samples = store.samples(report.run.id)
    assert samples["step"][-1] == steps[-1].step  # nothing stored after the step that shorted
    _status_shows(tmp_path / "cyclerctl.toml", capsys, "smu:1", "(short)", "short detected")


def test_a_safety_stop_the_instrument_refuses_is_asked_again_until_it_is_done(
    smu: Smu, store: Store, tmp_path: Path, db_url: str
) -> None:
    """The breach is in the first block of the charge; the instrument refuses "output off"
    twice (an error code each time): the engine records it and asks again until the
    output is off, and the run still ends safety_stop."""
    config = _config(
        tmp_path, db_url, f'name = "smu"\ndriver = "scpi"\naddress = "{smu.emulator.address}"',
        'current_max = "0.1 mA"',
    )  # fmt: skip
    the_plan = plan(
        step("ocv", "rest", ends=(EndCondition("time", 20.0),)),  # two bursts of ten points
        step("charge", "cc", current_A=ONE_C, ends=(EndCondition("time", 3600.0),)),
    )
    # the third :READ? is the charge's first block, the breach; then the stop is refused
    smu.emulator.after_reads(3, lambda: smu.emulator.refuse_next(900, n=2))
    report = smu.run(store, the_plan, config)
    _breach(store, report, "current_max", 1e-4)
    faults = [e for e in store.events(report.run.id) if e.kind == "instrument"]
    assert faults and all(e.data["command"] == ":OUTP OFF" for e in faults)
    assert '900,"Internal System Error"' in faults[0].message
    assert "at rest as soon as it answers" in faults[0].message
    (gap,) = [e for e in store.events(report.run.id) if e.kind == "gap"]
    assert "put at rest" in gap.message
    assert smu.emulator.requests.count(":OUTP OFF") >= 3
    smu.stopped_within_the_block()
