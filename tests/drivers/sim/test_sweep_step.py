"""Sweep steps (LSV, CV) on the simulated channel."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.base import StepProgress
from cyclerctl.drivers.sim import SimChannel

from .helpers import LI_SS_AREA_M2, blocking_cell, channel, li_ss_cell, run, sweep_step, until

THRESHOLD_A = 10e-6 / 1e-4 * LI_SS_AREA_M2  # 10 µA/cm² on the 12 mm disk


def test_an_lsv_from_ocv_samples_every_second_at_1_mV_per_s() -> None:
    ch = channel(li_ss_cell(noise=0))
    points, status = run(ch, sweep_step(1e-3, 4.9))
    assert status.end_reason == "done"
    assert len(points) == 2001  # 2.9 V → 4.9 V: 2000 intervals of 1 s, both ends
    assert points["t"].tolist() == [float(n) for n in range(2001)]
    assert points["V"] == pytest.approx(2.9 + 1e-3 * points["t"])
    assert points["V"][-1] == pytest.approx(4.9)


def test_an_lsv_crosses_the_threshold_within_20_mV_of_the_oxidation_onset() -> None:
    for onset in (4.2, 4.5, 4.8):
        ch = channel(li_ss_cell(oxidation_onset=f"{onset} V"))
        points, status = run(ch, sweep_step(1e-3, 5.0))
        assert status.end_reason == "done"
        above = points["I"] >= THRESHOLD_A
        first = int(np.argmax(above))
        assert above[first:].all()  # and it stays above
        assert points["V"][first] == pytest.approx(onset, abs=0.02)


def test_a_fast_sweep_keeps_one_millivolt_between_points() -> None:
    ch = channel(blocking_cell(noise=0))
    points, status = run(ch, sweep_step(0.1, 0.5, start_V=0.0))
    assert status.end_reason == "done"
    assert len(points) == 501
    assert np.diff(points["t"]) == pytest.approx(0.01)
    assert np.diff(points["V"]) == pytest.approx(1e-3)


def test_a_cv_goes_through_its_vertices_in_order_cycles_times() -> None:
    ch = channel(blocking_cell(noise=0, current_noise=0))
    step = sweep_step(0.01, 0.5, -0.5, start_V=0.0, cycles=2)
    points, status = run(ch, step)
    assert status.end_reason == "done"
    # 0 → 0.5 → −0.5 → 0.5 → −0.5: 0.5 + 1 + 1 + 1 V at 10 mV/s
    assert points["t"][-1] == pytest.approx(350.0)
    turns = [0.0, 50.0, 150.0, 250.0, 350.0]
    vertices = [0.0, 0.5, -0.5, 0.5, -0.5]
    for t, v in zip(turns, vertices, strict=True):
        at = np.flatnonzero(np.isclose(points["t"], t))
        assert len(at) == 1 and points["V"][at[0]] == pytest.approx(v)
    assert points["V"].max() == pytest.approx(0.5) and points["V"].min() == pytest.approx(-0.5)
    # capacitive current (C = 10 µF): − C·r going down, + C·r going up (and the 1 GΩ leak)
    down = (points["t"] > 60) & (points["t"] < 140)
    assert points["I"][down] == pytest.approx(-1e-5 * 0.01, rel=0.01)
    up = (points["t"] > 160) & (points["t"] < 240)
    assert points["I"][up] == pytest.approx(1e-5 * 0.01, rel=0.01)


def test_a_vertex_between_grid_points_gets_its_own_point() -> None:
    ch = channel(li_ss_cell(noise=0))
    points, _ = run(ch, sweep_step(1e-3, 3.0005, 2.9, start_V=2.9))
    # 100.5 s up, 100.5 s down
    vertex = np.flatnonzero(np.isclose(points["t"], 100.5, atol=1e-9))
    assert len(vertex) == 1
    assert points["V"][vertex[0]] == pytest.approx(3.0005)
    assert points["V"].max() == pytest.approx(3.0005)
    assert points["t"][vertex[0] + 1] == 101.0  # then the grid goes on
    assert points["t"][-1] == pytest.approx(201.0)
    assert points["V"][-1] == pytest.approx(2.9)


def test_until_conditions_apply_to_sweeps() -> None:
    ch = channel(li_ss_cell(noise=0))
    points, status = run(ch, sweep_step(1e-3, 5.0, ends=until(voltage_above=4.0)))
    assert status.end_reason == "limit:voltage"
    assert points["V"][-1] == pytest.approx(4.0, abs=1e-6)
    points, status = run(ch, sweep_step(1e-3, 5.0, ends=until(time=100.5)))
    assert status.end_reason == "time" and points["t"][-1] == 100.5


def test_charge_is_the_integral_of_the_current() -> None:
    ch = channel(li_ss_cell(noise=0, current_noise=0))
    points, _ = run(ch, sweep_step(1e-3, 5.0, 4.0))
    steps = np.diff(points["t"]) * (points["I"][1:] + points["I"][:-1]) / 2
    assert points["Q"][-1] == pytest.approx(steps.sum(), rel=1e-3)


def test_a_resumed_sweep_goes_on_from_where_its_elapsed_time_puts_it() -> None:
    ch = channel(li_ss_cell(noise=0))
    step = sweep_step(1e-3, 3.5, start_V=3.0)
    points, status = run(ch, step, StepProgress(elapsed_s=200.0))
    assert status.end_reason == "done"
    assert points["t"][0] == 200.0 and points["V"][0] == pytest.approx(3.2)
    assert points["t"][-1] == pytest.approx(500.0)


def test_a_sweep_that_goes_nowhere_is_done_at_once() -> None:
    ch = channel(li_ss_cell(noise=0))
    points, status = run(ch, sweep_step(1e-3, 2.9))
    assert status.end_reason == "done" and len(points) == 1


def test_bad_sweeps_are_refused() -> None:
    ch = channel(li_ss_cell())
    assert isinstance(ch, SimChannel)
    with pytest.raises(ValueError, match="outside this channel's"):
        ch.start_step(sweep_step(1e-3, 6.0))
    with pytest.raises(ValueError, match="scan rate > 0"):
        ch.start_step(sweep_step(0.0, 4.0))
