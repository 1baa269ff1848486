"""Instrument faults mid-run, through the real stack: the engine, the SourceMeter driver,
pyvisa-py, loopback TCP and the SCPI emulator (virtual time: each :READ? is ten 1-s points).

The emulator's fault hooks fire at a chosen :READ? (``after_reads``), so each fault lands in
the middle of the charge step: a dropped link, an instrument gone for a while or for good,
garbled / truncated / missing replies, a refused command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.config import load_config
from cyclerctl.daemon.faults import with_faults
from cyclerctl.daemon.status import format_status, status_rows
from cyclerctl.drivers.base import InstrumentFault
from cyclerctl.drivers.chamber import ChamberEmulator, ChamberError, SerialChamber
from cyclerctl.drivers.scpi import open_instrument, start_emulator
from cyclerctl.drivers.scpi.driver import SourceMeterInstrument
from cyclerctl.drivers.scpi.emulator import ScpiEmulator
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.drivers.sim.chamber import SimChamber
from cyclerctl.engine.control import RunControl
from cyclerctl.engine.runner import ChannelRunner, RunOutcome
from cyclerctl.plan import ChamberSettings, EndCondition, Plan, RecordCriteria
from cyclerctl.protocol import load_cell
from cyclerctl.store import TERMINAL_STATUSES as TERMINAL
from cyclerctl.store import EventRecord, StepRecord, Store

from ..engine.factory import CELL, plan, step

CHARGE_S = 1200.0  # the charge step: 120 :READ? bursts
FAULT_AT_READ = 40  # well inside the charge step (the rest before it takes 3 bursts)
OPTIONS = {"virtual_time": True, "timeout_s": 0.3, "voltage_limit_V": 5.0, "seed": 7}


def _plan(*, resumable: bool = True) -> Plan:
    return plan(
        step("ocv", "rest", ends=(EndCondition("time", 30.0),)),
        step(
            "charge",
            "cc",
            current_A=1.979e-4 / 5,  # C/5: stays well below 4.3 V in 20 min
            ends=(EndCondition("time", CHARGE_S), EndCondition("voltage_above", 4.3)),
            resumable=resumable,
        ),
        step("relax", "rest", ends=(EndCondition("time", 60.0),)),
        record=RecordCriteria(every_s=10.0),
    )


@dataclass
class Bench:
    store: Store
    emulator: ScpiEmulator
    instrument: SourceMeterInstrument
    control: RunControl = field(default_factory=RunControl)
    states: list[str] = field(default_factory=list)

    def run(self, the_plan: Plan, *, lost_after_s: float = 20.0) -> tuple[int, RunOutcome]:
        channel = self.instrument.channels[0]
        run = self.store.create_run(
            the_plan, operator="test", instrument=self.instrument.identity.as_dict(),
            channel="smu:1",
        )  # fmt: skip
        writer = self.store.open_writer(run.id, channel=run.channel)
        runner = ChannelRunner(
            the_plan,
            channel,
            writer,
            control=self.control,
            on_state=self.states.append,
            poll_interval_s=0.05,
            instrument_lost_after_s=lost_after_s,
        )
        try:
            outcome = runner.run()
        finally:
            writer.close()
        return run.id, outcome

    def events(self, run_id: int, kind: str) -> list[EventRecord]:
        return [e for e in self.store.events(run_id) if e.kind == kind]

    def steps(self, run_id: int) -> list[StepRecord]:
        return self.store.steps(run_id)

    def later(self, delay_s: float, action: Callable[[], object]) -> None:
        timer = threading.Timer(delay_s, action)
        timer.daemon = True
        timer.start()


@pytest.fixture
def bench(db_url: str) -> Iterator[Bench]:
    store = Store.open(db_url)
    emulator = start_emulator([CELL], "127.0.0.1", 0, OPTIONS)
    instrument = open_instrument(emulator.address, OPTIONS)
    try:
        yield Bench(store, emulator, instrument)
    finally:
        instrument.close()
        emulator.close()
        store.close()


def _charge_continues(bench: Bench, run_id: int) -> None:
    """The charge step ran its full time once, with no point stored twice or out of order."""
    charge = [s for s in bench.steps(run_id) if s.name == "charge"]
    assert len(charge) == 1 and charge[0].end_reason == "time"
    assert charge[0].t_end is not None
    assert charge[0].t_end - charge[0].t_start == pytest.approx(CHARGE_S, abs=10.0)
    samples = bench.store.samples(run_id)
    assert np.all(np.diff(samples["seq"]) == 1)
    for number in np.unique(samples["step"]):  # a step's first point is at its start time
        assert np.all(np.diff(samples["t"][samples["step"] == number]) > 0)


def _fault_names(event: EventRecord, command: str) -> None:
    assert event.data["command"] == command
    assert "EMU0001" in str(event.data["instrument"])
    assert "instrument KEITHLEY INSTRUMENTS INC. MODEL 2400 #EMU0001" in event.message
    assert f"command {command!r}" in event.message


def _output_off_before_the_next_read(emulator: ScpiEmulator) -> None:
    """After the reconnection (the second *IDN?), the output goes off before any :READ?."""
    lines = list(emulator.requests)
    idns = [i for i, line in enumerate(lines) if line == "*IDN?"]
    assert len(idns) >= 2, lines[:20]
    after = lines[idns[1] :]
    first_read = next(i for i, line in enumerate(after) if line == ":READ?")
    assert ":OUTP OFF" in after[:first_read]
    # and the step is started again only then: output on after it was switched off
    assert after.index(":OUTP OFF") < after.index(":OUTP ON") < first_read


def test_a_dropped_link_puts_the_cell_at_rest_pauses_and_the_step_goes_on(bench: Bench) -> None:
    bench.emulator.after_reads(FAULT_AT_READ, bench.emulator.drop_link)
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    assert bench.emulator.dropped == 1
    assert bench.states == ["paused", "running"]
    (lost,) = bench.events(run_id, "instrument")
    assert lost.severity == "alarm" and lost.data["link_lost"] is True
    _fault_names(lost, ":READ?")
    assert "the run pauses" in lost.message
    (gap,) = bench.events(run_id, "gap")
    assert gap.data["cause"] == "instrument" and "put at rest" in gap.message
    assert gap.t == lost.t  # the gap starts where the data stopped
    _output_off_before_the_next_read(bench.emulator)
    _charge_continues(bench, run_id)


def test_an_instrument_away_for_a_while_is_waited_for(bench: Bench) -> None:
    emulator = bench.emulator

    def away() -> None:
        emulator.go_offline()
        bench.later(0.8, emulator.come_back)

    emulator.after_reads(FAULT_AT_READ, away)
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    assert bench.states == ["paused", "running"]
    (lost,) = bench.events(run_id, "instrument")
    _fault_names(lost, ":READ?")
    (gap,) = bench.events(run_id, "gap")
    assert gap.data["gap_s"] > 0
    _output_off_before_the_next_read(emulator)
    _charge_continues(bench, run_id)


def test_an_instrument_that_never_comes_back_ends_the_run_with_a_reason(bench: Bench) -> None:
    bench.emulator.after_reads(FAULT_AT_READ, bench.emulator.go_offline)
    run_id, outcome = bench.run(_plan(), lost_after_s=0.6)
    assert (outcome.status, outcome.end_reason) == ("failed", "instrument:lost")
    first, last = bench.events(run_id, "instrument")
    _fault_names(first, ":READ?")
    assert last.data["command"] == "reconnect"
    assert "no answer for" in last.message and "instrument:lost" in last.message
    assert "Connection refused" in last.message
    charge = [s for s in bench.steps(run_id) if s.name == "charge"]
    assert charge[-1].end_reason == "instrument:lost"
    assert not bench.events(run_id, "gap")
    assert len(bench.store.samples(run_id)) > 0  # what was measured before is kept


@pytest.mark.parametrize(
    ("hook", "detail"),
    [
        (lambda e: e.garble_next(kind="junk"), "garbled reply"),
        (lambda e: e.garble_next(kind="short"), "not a multiple of the 4 elements"),
        (lambda e: e.silence_next(), "no answer"),
    ],
    ids=["junk", "truncated", "timeout"],
)
def test_a_bad_reply_is_an_event_and_the_step_goes_on(
    bench: Bench, hook: Callable[[ScpiEmulator], None], detail: str
) -> None:
    bench.emulator.after_reads(FAULT_AT_READ, lambda: hook(bench.emulator))
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    assert bench.states == []  # the instrument answered: no pause
    (fault,) = bench.events(run_id, "instrument")
    assert fault.severity == "warning" and fault.data["link_lost"] is False
    _fault_names(fault, ":READ?")
    assert detail in fault.message and "the step goes on" in fault.message
    _charge_continues(bench, run_id)


def test_repeated_garbage_counts_as_a_lost_instrument(bench: Bench) -> None:
    bench.emulator.after_reads(FAULT_AT_READ, lambda: bench.emulator.garble_next(3))
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    warnings = [e for e in bench.events(run_id, "instrument") if e.severity == "warning"]
    alarms = [e for e in bench.events(run_id, "instrument") if e.severity == "alarm"]
    assert len(warnings) == 2 and len(alarms) == 1  # the third in a row: treated as lost
    assert bench.states == ["paused", "running"]
    assert len(bench.events(run_id, "gap")) == 1
    _charge_continues(bench, run_id)


def test_an_error_code_from_the_instrument_names_the_command(bench: Bench) -> None:
    # the first command after that :READ? is the relax step's set-up: it is refused once
    bench.emulator.after_reads(int(CHARGE_S) // 10 + 3, lambda: bench.emulator.refuse_next(900))
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    (refused,) = bench.events(run_id, "instrument")
    assert '900,"Internal System Error"' in refused.message
    assert refused.data["command"].startswith(":")  # a configuration command, by its text
    assert refused.data["command"] != ":READ?"
    assert "EMU0001" in str(refused.data["instrument"])
    assert [s.end_reason for s in bench.steps(run_id)] == ["time", "time", "time"]


def test_an_operator_stop_while_the_instrument_is_away_ends_the_run_stopped(
    bench: Bench,
) -> None:
    def away() -> None:
        bench.emulator.go_offline()
        bench.later(0.3, lambda: bench.control.stop("ana"))

    bench.emulator.after_reads(FAULT_AT_READ, away)
    run_id, outcome = bench.run(_plan())
    assert (outcome.status, outcome.end_reason) == ("stopped", "operator")
    (stop,) = bench.events(run_id, "operator")
    assert "stopped by ana while" in stop.message


def test_a_step_that_cannot_resume_ends_the_run_interrupted(bench: Bench) -> None:
    bench.emulator.after_reads(FAULT_AT_READ, bench.emulator.drop_link)
    run_id, outcome = bench.run(_plan(resumable=False))
    assert (outcome.status, outcome.end_reason) == ("interrupted", "interrupted")
    (event,) = bench.events(run_id, "interrupted")
    assert "resumable = false" in event.message
    assert bench.emulator.instrument.handle(":OUTP?") == "0"  # the cell is left at rest


# -- a chamber whose serial port vanishes ------------------------------------------------------


def _wait_until(what: str, check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_vanished_serial_port_is_a_fault_naming_the_port_then_it_is_reopened(
    tmp_path: Path,
) -> None:
    chamber = SimChamber(clock=time.monotonic, ambient_K=298.15)
    port = tmp_path / "ttyESPEC"
    with ChamberEmulator(chamber, link=port) as emulator:
        driver = SerialChamber(str(port), timeout=0.2, reconnect_backoff_s=0.05)
        try:
            driver.set_temperature(313.15)
            emulator.unplug()
            assert not port.exists()
            with pytest.raises(ChamberError) as lost:
                driver.read()
            assert lost.value.link_lost and lost.value.instrument == f"chamber on {port}"
            assert lost.value.command == "TEMP?" and "port error" in str(lost.value)
            assert isinstance(lost.value, InstrumentFault)
            with pytest.raises(ChamberError, match="port lost") as again:
                driver.read()  # at once: the backoff, or a port that is not there
            assert again.value.link_lost
            emulator.plug_in()

            def answers() -> bool:
                try:
                    driver.read()
                except ChamberError:
                    return False
                return True

            _wait_until("the chamber to answer on the new port", answers)
            assert driver.reconnections == 1
            reading = driver.read()
            assert reading.setpoint_K == pytest.approx(313.15)  # the controller kept it
        finally:
            driver.close()


def test_a_chamber_step_waits_while_the_port_is_gone(db_url: str, tmp_path: Path) -> None:
    """The chamber's port vanishes while the cell soaks: an instrument event naming the
    port, no temperature meanwhile (the soak cannot complete on nothing), then the port is
    back, the soak completes and the run goes on. The SourceMeter measures no temperature,
    so every point's T is the chamber's reading over the serial line."""
    soak = plan(
        step(
            "warm", "rest",
            chamber=ChamberSettings(setpoint_K=303.15, tolerance_K=1.0, soak_s=300.0,
                                    timeout_s=48 * 3600.0),
        ),
        step("ocv", "rest", ends=(EndCondition("time", 60.0),)),
    )  # fmt: skip
    # the chamber's own clock runs 600× the wall clock: it settles in seconds
    chamber_physics = SimChamber(clock=lambda: 600.0 * time.monotonic(), noise_K=0.0)
    port = tmp_path / "ttyESPEC"
    with (
        ChamberEmulator(chamber_physics, link=port) as emulator,
        start_emulator([CELL], "127.0.0.1", 0, OPTIONS) as smu,
        Store.open(db_url) as store,
    ):
        instrument = open_instrument(smu.address, OPTIONS)
        chamber = SerialChamber(str(port), timeout=0.2, reconnect_backoff_s=0.05)

        def pull() -> None:
            emulator.unplug()
            timer = threading.Timer(0.5, emulator.plug_in)
            timer.daemon = True
            timer.start()

        # ROM?, the set point (2 lines), then TEMP? and MON? per reading: in the soak
        emulator.after_commands(6, pull)
        run = store.create_run(soak, operator="test", instrument={}, channel="smu:1")
        writer = store.open_writer(run.id, channel=run.channel)
        try:
            outcome = ChannelRunner(
                soak, instrument.channels[0], writer, chamber=chamber, poll_interval_s=0.05,
            ).run()  # fmt: skip
        finally:
            writer.close()
            chamber.close()
            instrument.close()
        events = store.events(run.id)
        steps = store.steps(run.id)
        samples = store.samples(run.id)
    assert (outcome.status, outcome.end_reason) == ("completed", "completed")
    assert [s.end_reason for s in steps] == ["stable", "time"]
    (lost,) = [e for e in events if e.kind == "instrument"]
    assert lost.severity == "alarm" and lost.data["instrument"] == f"chamber on {port}"
    assert lost.data["link_lost"] is True and "the soak waits" in lost.message
    (gap,) = [e for e in events if e.kind == "gap"]
    assert gap.data["gap_s"] > 0 and chamber.reconnections == 1
    warm = samples[samples["step"] == steps[0].step]
    assert np.isnan(warm["T"]).any()  # while the port was gone: no temperature, not a guess
    assert abs(warm["T"][-1] - 303.15) <= 1.0


# -- the daemon: one instrument's faults never take other channels down ------------------------


def test_a_garbling_dropping_sourcemeter_in_the_daemon_leaves_the_other_channel_alone(
    tmp_path: Path,
) -> None:
    """A real daemon process drives a SourceMeter (emulated here, reached over TCP) that
    garbles a reply, drops its link, then goes away for a second, next to a healthy
    simulated channel. Both runs complete; the SourceMeter's run records each fault and
    each gap, the simulated one records none."""
    from ..daemon.conftest import PROTOCOL, DaemonProcess, Lab, sim, wait_for

    (tmp_path / "daemon-test.toml").write_text(PROTOCOL)
    lab = Lab(tmp_path, f"sqlite:///{tmp_path / 'lab.db'}")
    emulator = start_emulator([load_cell("ncm622-coin")], "127.0.0.1", 0, OPTIONS)

    def away() -> None:
        emulator.go_offline()
        timer = threading.Timer(1.0, emulator.come_back)
        timer.daemon = True
        timer.start()

    emulator.after_reads(30, emulator.garble_next)
    emulator.after_reads(60, emulator.drop_link)
    emulator.after_reads(90, away)
    lab.instruments = [
        f'[[instruments]]\nname = "smu"\ndriver = "scpi"\naddress = "{emulator.address}"\n'
        "options = { virtual_time = true, timeout_s = 0.3, voltage_limit_V = 5.0 }\n",
        sim("good", 1, speed=600),
    ]
    smu_run, good_run = lab.submit("smu:1", cycles=3), lab.submit("good:1", cycles=2)
    daemon = DaemonProcess(lab.config(), tmp_path / "daemon.log").start()
    try:
        runs = wait_for(
            "both runs to end",
            lambda: (lambda a, b: (a, b) if a.status in TERMINAL and b.status in TERMINAL
                     else None)(lab.run(smu_run), lab.run(good_run)),
            timeout=90,
        )  # fmt: skip
        assert [(r.status, r.end_reason) for r in runs] == [("completed", "completed")] * 2, (
            daemon.text()
        )
        assert daemon.running()  # the faults took nothing down
    finally:
        if daemon.running():
            daemon.terminate()
        emulator.close()
    with lab.store() as store:
        smu_events = store.events(smu_run)
        good_events = store.events(good_run)
    faults = [e for e in smu_events if e.kind == "instrument"]
    assert [e.severity for e in faults] == ["warning", "alarm", "alarm"], faults
    assert all("EMU0001" in str(e.data["instrument"]) for e in faults)
    assert [e.data["command"] for e in faults] == [":READ?"] * 3
    assert len([e for e in smu_events if e.kind == "gap"]) == 2
    assert not [e for e in good_events if e.kind in ("instrument", "gap", "error")]


# -- the same outage on a channel that runs its steps on board, and on a host-sequenced one ----


@dataclass
class Drilled:
    outcome: RunOutcome
    states: list[str]
    events: list[EventRecord]
    steps: list[StepRecord]
    samples: np.ndarray


def _drilled_run(db_url: str, native: frozenset[str] | None) -> Drilled:
    """A real-time simulated cycler (600×) whose link is down from 0.5 s to 1.3 s of wall
    time into the run (the daemon's ``drop_after``/``drop_for`` drill)."""
    the_plan = plan(
        step("ocv", "rest", ends=(EndCondition("time", 120.0),)),
        step("charge", "cc", current_A=1.979e-4,
             ends=(EndCondition("time", 900.0), EndCondition("voltage_above", 4.2))),
        step("relax", "rest", ends=(EndCondition("time", 120.0),)),
    )  # fmt: skip
    sim = SimInstrument([CELL], seed=5, realtime=True, speed=600.0, native_end_conditions=native)
    channel = with_faults(sim.channels[0], {"drop_after": 0.5, "drop_for": 0.8})
    store = Store.open(db_url)
    run = store.create_run(the_plan, operator="test", instrument={}, channel=channel.name)
    writer = store.open_writer(run.id, channel=run.channel)
    states: list[str] = []
    try:
        outcome = ChannelRunner(
            the_plan, channel, writer, poll_interval_s=0.05, on_state=states.append
        ).run()
    finally:
        writer.close()
    try:
        return Drilled(
            outcome, states, store.events(run.id), store.steps(run.id), store.samples(run.id)
        )
    finally:
        store.close()


def test_a_step_on_board_goes_on_through_a_dropped_link_and_nothing_is_lost(
    db_url: str,
) -> None:
    run = _drilled_run(db_url, None)  # the simulator ends steps itself
    events, samples, steps = run.events, run.samples, run.steps
    assert (run.outcome.status, run.outcome.end_reason) == ("completed", "completed")
    assert run.states == []  # never paused
    (lost,) = [e for e in events if e.kind == "instrument"]
    assert lost.severity == "alarm" and "the step goes on on board" in lost.message
    assert lost.data["link_lost"] is True and "drop_after" in lost.message
    (gap,) = [e for e in events if e.kind == "gap"]
    assert "data flows again" in gap.message and gap.data["gap_s"] > 0
    # every simulated second is there: what was measured during the outage was fetched
    for record in steps:
        t = samples["t"][samples["step"] == record.step]
        assert np.allclose(np.diff(t), 1.0), record.name


def test_a_host_sequenced_step_is_put_at_rest_and_goes_on_through_a_dropped_link(
    db_url: str,
) -> None:
    run = _drilled_run(db_url, frozenset())  # the engine ends every step
    events, samples, steps = run.events, run.samples, run.steps
    assert (run.outcome.status, run.outcome.end_reason) == ("completed", "completed")
    assert run.states == ["paused", "running"]
    lost = [e for e in events if e.kind == "instrument"]
    assert lost[0].severity == "alarm" and "the run pauses" in lost[0].message
    (gap,) = [e for e in events if e.kind == "gap"]
    assert "put at rest" in gap.message
    assert len(steps) == 3 and len({s.step for s in steps}) == 3  # no step run twice
    for record in steps:
        t = samples["t"][samples["step"] == record.step]
        assert np.all(np.diff(t) > 0), record.name


def test_status_says_why_a_run_is_paused_while_its_instrument_is_away(
    bench: Bench, tmp_path: Path, db_url: str
) -> None:
    """The operator's view while the run waits: `cyclerctl status` names the channel, the
    run, "paused", and the instrument event that paused it."""
    config_path = tmp_path / "cyclerctl.toml"
    config_path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[[instruments]]\nname = "smu"\ndriver = "scpi"\n'
        f'address = "{bench.emulator.address}"\n'
    )
    config = load_config(str(config_path))
    seen: list[str] = []
    the_plan = _plan()
    run = bench.store.create_run(the_plan, operator="ana", instrument={}, channel="smu:1")
    writer = bench.store.open_writer(run.id, channel=run.channel)

    def follow(state: str) -> None:  # what drive_run does, then what the operator sees
        writer.flush(timeout=30.0)
        bench.store.set_status(run.id, state)
        seen.append(format_status(*status_rows(bench.store, config)))

    def away() -> None:
        bench.emulator.go_offline()
        bench.later(0.5, bench.emulator.come_back)

    bench.emulator.after_reads(FAULT_AT_READ, away)
    try:
        outcome = ChannelRunner(
            the_plan, bench.instrument.channels[0], writer, on_state=follow,
            poll_interval_s=0.05,
        ).run()  # fmt: skip
    finally:
        writer.close()
    assert outcome.status == "completed" and len(seen) == 2
    paused = [line for line in seen[0].splitlines() if line.startswith("smu:1: ")]
    assert paused == [paused[0]] and f"run {run.id} paused" in paused[0]
    assert "EMU0001" in paused[0] and "':READ?'" in paused[0] and "the run pauses" in paused[0]
    assert not [line for line in seen[1].splitlines() if line.startswith("smu:1: ")]
