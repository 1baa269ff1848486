"""Native end conditions: a step ends at the first point meeting one, crossings exactly."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from cyclerctl.drivers.sim import SimChannel
from cyclerctl.drivers.sim.model import Trajectory
from cyclerctl.plan import EndCondition

from .helpers import (
    I_1C_A,
    QUIET,
    cc_discharge,
    cccv_charge,
    channel,
    coin_cell,
    rest,
    run,
    step,
    until,
)

FloatArray = npt.NDArray[np.float64]


def charged_channel(**sim: object) -> SimChannel:
    ch = channel(coin_cell(**sim))
    run(ch, cccv_charge())
    run(ch, rest())
    assert isinstance(ch, SimChannel)
    return ch


def test_voltage_cut_off_is_crossed_exactly() -> None:
    points, status = run(charged_channel(**QUIET), cc_discharge(rate=1.0))
    assert status.end_reason == "limit:voltage"
    assert points["V"][-1] == pytest.approx(3.0, abs=1e-6)
    assert np.all(points["V"][:-1] > 3.0)
    assert points["t"][-1] % 1.0 != 0.0  # between two grid points, where it crossed


def test_voltage_cut_off_with_noise_is_within_noise_of_the_limit() -> None:
    points, _ = run(charged_channel(), cc_discharge(rate=1.0))
    assert points["V"][-1] == pytest.approx(3.0, abs=1e-3)  # 5 σ of 0.2 mV


def test_step_charge_is_the_integral_of_the_current() -> None:
    for s in (cc_discharge(rate=1.0), cccv_charge(rate=1.0)):
        points, _ = run(charged_channel(**QUIET), s)
        integral = np.concatenate(
            ([0.0], np.cumsum(np.diff(points["t"]) * (points["I"][1:] + points["I"][:-1]) / 2))
        )
        assert points["Q"] == pytest.approx(integral, rel=1e-3, abs=1e-9)


def test_time_ends_exactly_even_off_the_grid() -> None:
    points, status = run(channel(), rest(100.5))
    assert status.end_reason == "time"
    assert points["t"][-1] == 100.5
    assert points["t"][-2] == 100.0


def test_charge_ends_exactly() -> None:
    points, status = run(channel(), step("cc", current_A=I_1C_A, ends=until(charge=0.1)))
    assert status.end_reason == "limit:charge"
    assert points["Q"][-1] == pytest.approx(0.1, abs=1e-12)


def test_charge_in_a_cv_hold_ends_within_tolerance() -> None:
    ch = channel(coin_cell(**QUIET, initial_soc=0.5))
    points, status = run(ch, step("cv", voltage_V=3.9, ends=until(charge=0.05)))
    assert status.end_reason == "limit:charge"
    assert points["Q"][-1] == pytest.approx(0.05, abs=1e-8)


def test_first_of_several_conditions_wins() -> None:
    s = step("cc", current_A=I_1C_A, ends=until(time=50.0, charge=0.1, voltage_above=4.3))
    _, status = run(channel(), s)
    assert status.end_reason == "time"


def test_a_condition_already_met_ends_the_step_at_its_first_point() -> None:
    # a fresh cell sits at 3.0 V: a discharge to 3.0 V is over at once
    points, status = run(channel(coin_cell(**QUIET)), cc_discharge())
    assert status.end_reason == "limit:voltage"
    assert points["t"].tolist() == [0.0]


def test_dvdt_ends_a_rest_once_the_cell_has_relaxed() -> None:
    ch = charged_channel(**QUIET)
    run(ch, cc_discharge())
    s = step("rest", ends=(EndCondition("dvdt_below", 1e-6, window_s=60.0), *until(time=7200.0)))
    points, status = run(ch, s)
    assert status.end_reason == "limit:dvdt"
    assert points["t"][-1] >= 60.0
    i = len(points) - 1
    rate = abs(points["V"][i] - points["V"][i - 60]) / 60.0
    assert rate < 1e-6
    earlier = abs(points["V"][i - 1] - points["V"][i - 61]) / 60.0
    assert earlier >= 1e-6


def test_dvdt_waits_for_a_full_window() -> None:
    ch = channel(coin_cell(**QUIET))
    s = step("rest", ends=(EndCondition("dvdt_below", 1.0),))  # default window: 60 s
    points, status = run(ch, s)
    assert status.end_reason == "limit:dvdt"
    assert points["t"][-1] == 60.0


class CollapsingCell:
    """A stand-in cell (Li‖Li-like): ±50 mV under current, collapsing at 100 s of current."""

    temperature_K = 298.15
    voltage_noise_V = 0.0
    current_noise_A = 0.0
    seed = 1

    def __init__(self) -> None:
        self.t_s = 0.0

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        t = self.t_s + t_s
        voltage = np.where(t < 100.0, 0.05, 0.001) * np.sign(current_A)
        state = t.reshape(-1, 1)
        return Trajectory(t_s, voltage, np.full(len(t_s), current_A), current_A * t_s, state)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        raise NotImplementedError

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self.t_s = float(trajectory.state[index, 0])


def test_a_sudden_collapse_of_the_voltage_is_a_short() -> None:
    ch = SimChannel(CollapsingCell(), name="sim:1", rng=np.random.default_rng(1))
    s = step("cc", current_A=-1e-4, ends=(EndCondition("short", 0.2), *until(time=1000.0)))
    points, status = run(ch, s)
    assert status.end_reason == "short"
    assert points["t"][-1] == 100.0
    assert np.all(np.abs(points["V"][:-1]) == 0.05)


def test_no_short_while_the_voltage_holds() -> None:
    ch = SimChannel(CollapsingCell(), name="sim:1", rng=np.random.default_rng(1))
    s = step("cc", current_A=-1e-4, ends=(EndCondition("short", 0.2), *until(time=90.0)))
    _, status = run(ch, s)
    assert status.end_reason == "time"
