"""Commissioning on the simulator's dummy load: every line passes on a right instrument, the
matching line fails on a wrong one, and nothing beyond the limits is ever applied."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.commission import (
    CommissionReport,
    DummyError,
    Limits,
    NotADummy,
    commission,
    parse_dummy,
)
from cyclerctl.drivers.base import Capabilities, Channel, Samples, StepProgress
from cyclerctl.instruments import Setup, open_simulator
from cyclerctl.plan import Step
from cyclerctl.protocol import load_cell


def _sim(tmp_path: Path, dummy_text: str, *, speed: float | None = None) -> Setup:
    dummy = parse_dummy(dummy_text)
    path = tmp_path / "dummy.toml"
    path.write_text(dummy.cell_toml(1.0, 10e-3))
    return open_simulator([load_cell(str(path))], realtime=speed is not None, speed=speed or 1.0)


def _statuses(report: CommissionReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


@dataclass
class Watched:
    """The channel as commissioning sees it, keeping every point it was given."""

    inner: Channel
    current_factor: float = 1.0
    phase_in_degrees: bool = False
    steps: list[Step] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        self.steps.append(step)
        self.inner.start_step(step, progress)

    def read(self) -> Samples:
        samples = self.inner.read()
        self.points.append(samples.points.copy())
        samples.points["I"] *= self.current_factor
        if self.phase_in_degrees and samples.impedance is not None and len(samples.impedance):
            z = samples.impedance["Zre"] + 1j * samples.impedance["Zim"]
            # a decoder that takes a phase in degrees for radians
            wrong = np.abs(z) * np.exp(1j * np.degrees(np.angle(z)))
            samples.impedance["Zre"], samples.impedance["Zim"] = wrong.real, wrong.imag
        return samples

    def stop(self) -> None:
        self.inner.stop()


@pytest.mark.parametrize(
    "dummy", ["R=1 kohm", "R=100 ohm ±1 %, C=1 mF", "Rs=10 ohm, R=100 ohm, C=470 uF ±10 %"]
)
def test_every_line_passes_on_a_right_channel_within_the_limits(
    tmp_path: Path, dummy: str
) -> None:
    setup = _sim(tmp_path, dummy)
    watched = Watched(setup.instrument.channels[0])
    try:
        report = commission(watched, parse_dummy(dummy))
    finally:
        setup.close()
    assert report.passed, report.table()
    statuses = _statuses(report)
    assert statuses["time_base"] == "skip"  # virtual clock
    for name in ("current_sign", "current_scaling", "voltage_scaling", "cv_hold", "phase",
                 "record_criteria", "safety_trip", "native_end:time", "native_end:charge"):
        assert statuses[name] == "pass", report.table()
    points = np.concatenate(watched.points)
    assert np.max(np.abs(points["I"])) <= 10e-3 * 1.001
    assert np.max(np.abs(points["V"])) <= 1.0
    assert report.as_dict()["passed"] is True


def test_the_time_base_is_checked_against_the_wall_clock(tmp_path: Path) -> None:
    setup = _sim(tmp_path, "R=1 kohm", speed=20.0)
    try:
        report = commission(setup.instrument.channels[0], parse_dummy("R=1 kohm"), speed=20.0)
    finally:
        setup.close()
    assert _statuses(report)["time_base"] == "pass", report.table()


def test_a_clock_that_runs_fast_fails_the_time_base(tmp_path: Path) -> None:
    # the instrument runs 20x faster than we are told: its step time is not the wall clock
    setup = _sim(tmp_path, "R=1 kohm", speed=20.0)
    try:
        report = commission(setup.instrument.channels[0], parse_dummy("R=1 kohm"), speed=1.0)
    finally:
        setup.close()
    assert _statuses(report)["time_base"] == "fail", report.table()
    assert not report.passed


def test_current_read_in_milliamps_fails_the_scaling_lines(tmp_path: Path) -> None:
    setup = _sim(tmp_path, "R=1 kohm")
    try:
        report = commission(
            Watched(setup.instrument.channels[0], current_factor=1e3), parse_dummy("R=1 kohm")
        )
    finally:
        setup.close()
    statuses = _statuses(report)
    assert statuses["current_scaling"] == "fail", report.table()
    assert statuses["current_sign"] == "pass"
    assert not report.passed


def test_an_inverted_current_sign_fails_the_sign_line(tmp_path: Path) -> None:
    setup = _sim(tmp_path, "R=1 kohm")
    try:
        report = commission(
            Watched(setup.instrument.channels[0], current_factor=-1.0), parse_dummy("R=1 kohm")
        )
    finally:
        setup.close()
    assert _statuses(report)["current_sign"] == "fail", report.table()


def test_a_phase_in_degrees_fails_the_phase_line(tmp_path: Path) -> None:
    text = "R=100 ohm, C=1 mF"
    setup = _sim(tmp_path, text)
    try:
        report = commission(
            Watched(setup.instrument.channels[0], phase_in_degrees=True), parse_dummy(text)
        )
    finally:
        setup.close()
    phase = next(c for c in report.checks if c.name == "phase")
    assert phase.status == "fail", report.table()
    assert _statuses(report)["voltage_scaling"] == "pass"


def test_a_cell_on_the_channel_is_refused_before_any_current(tmp_path: Path) -> None:
    setup = open_simulator([load_cell("ncm622-coin")])
    watched = Watched(setup.instrument.channels[0])
    try:
        with pytest.raises(NotADummy, match="like a cell"):
            commission(watched, parse_dummy("R=1 kohm"))
    finally:
        setup.close()
    assert [s.kind for s in watched.steps] == ["rest"]


def test_the_test_current_keeps_inside_the_limits(tmp_path: Path) -> None:
    setup = _sim(tmp_path, "R=10 ohm")
    watched = Watched(setup.instrument.channels[0])
    try:
        report = commission(watched, parse_dummy("R=10 ohm"), limits=Limits(2e-3, 0.5))
    finally:
        setup.close()
    assert report.passed, report.table()
    points = np.concatenate(watched.points)
    assert np.max(np.abs(points["I"])) <= 2e-3 * 1.001
    assert np.max(np.abs(points["V"])) <= 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C=1 mF", "R is required"),
        ("R=1 kg", "expected a resistance"),
        ("R=1 kohm, R=2 kohm", "given twice"),
        ("Q=3", "NAME one of R, C, Rs"),
        ("R=1 kohm ±150 %", "between 0 and 100"),
        ("R=10 kohm, C=1 mF", "too slow"),
        ("R=-5 ohm", "R must be > 0"),
    ],
)
def test_bad_dummy_texts_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(DummyError, match=message):
        parse_dummy(text)


def test_dummy_values_and_tolerances_are_read_with_units() -> None:
    d = parse_dummy("Rs=10 ohm, R=0.1 kohm ±1 %, C=470 uF ±10 %")
    assert (d.series_ohm, d.resistance_ohm) == (10.0, 100.0)
    assert math.isclose(d.capacitance_F, 470e-6)
    assert (d.resistance_tolerance, d.capacitance_tolerance) == (0.01, 0.10)
    assert math.isclose(abs(d.impedance(np.array([0.0]))[0]), 110.0)
    assert math.isclose(d.apex_frequency_Hz or 0, 1 / (2 * math.pi * 0.047))
