"""The simulated temperature chamber, alone and in the simulated instrument."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.drivers.base import Chamber
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.drivers.sim.blocking import BlockingCell
from cyclerctl.drivers.sim.chamber import SimChamber, chamber_from_settings
from cyclerctl.drivers.sim.insertion import InsertionCell

from .helpers import blocking_cell, coin_cell, eis_step, rest, run, run_eis


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_it_is_a_chamber_with_an_identity() -> None:
    chamber = SimChamber(clock=Clock())
    assert isinstance(chamber, Chamber)
    identity = chamber.identity
    assert (identity.driver, identity.model) == ("sim", "simulated chamber")
    reading = chamber.read()
    assert reading.setpoint_K is None
    assert reading.temperature_K == pytest.approx(298.15, abs=0.1)
    chamber.close()


def test_it_approaches_the_set_point_first_order() -> None:
    clock = Clock()
    chamber = SimChamber(clock=clock, time_constant_s=600.0, noise_K=0.0)
    clock.now = 100.0
    chamber.set_temperature(333.15)
    clock.now += 600.0  # one time constant: 63 % of the way
    reading = chamber.read()
    assert reading.setpoint_K == 333.15
    assert reading.temperature_K == pytest.approx(298.15 + 35.0 * (1 - math.exp(-1)))
    t = 100.0 + np.array([0.0, 300.0, 1200.0, 6000.0])
    expected = 333.15 - 35.0 * np.exp(-(t - 100.0) / 600.0)
    assert chamber.temperature_at(t) == pytest.approx(expected)
    # a new set point starts from wherever the chamber is
    chamber.set_temperature(303.15)
    clock.now += 600.0
    start = 298.15 + 35.0 * (1 - math.exp(-1))
    assert chamber.read().temperature_K == pytest.approx(303.15 + (start - 303.15) / math.e)


def test_an_oscillating_chamber_never_stays_within_half_a_kelvin_for_30_min() -> None:
    clock = Clock()
    chamber = SimChamber(clock=clock, oscillation_K=1.5, oscillation_period_s=900.0)
    chamber.set_temperature(333.15)
    t = np.arange(0.0, 12 * 3600.0, 10.0)
    temperature = chamber.temperature_at(t)
    out = np.abs(temperature - 333.15) > 0.5
    window = int(1800 / 10)
    for start in range(0, len(t) - window):
        assert out[start : start + window].any()
    # it does hover around the set point once the first-order part has settled
    late = temperature[t > 6 * 3600.0]
    assert late.mean() == pytest.approx(333.15, abs=0.1)
    assert late.max() - late.min() == pytest.approx(3.0, abs=0.2)


def test_noise_is_seeded() -> None:
    t = np.arange(100.0)
    a = SimChamber(clock=Clock(), seed=3).temperature_at(t)
    b = SimChamber(clock=Clock(), seed=3).temperature_at(t)
    c = SimChamber(clock=Clock(), seed=4).temperature_at(t)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a - 298.15).std() == pytest.approx(0.02, rel=0.3)
    quiet = SimChamber(clock=Clock(), seed=3).temperature_at(t, noise=False)
    assert np.all(quiet == 298.15)


def test_settings_are_read_with_units() -> None:
    chamber = chamber_from_settings(
        {"time_constant": "10 min", "oscillation": "1.5 K", "ambient": "25 degC",
         "noise": "0.02 K", "oscillation_period": "15 min", "seed": 2},
        clock=Clock(),
    )
    assert chamber.time_constant_s == 600.0
    assert chamber.oscillation_K == 1.5
    assert chamber.ambient_K == pytest.approx(298.15)
    assert chamber.noise_K == 0.02
    assert chamber.oscillation_period_s == 900.0
    with pytest.raises(ValueError, match=r"unknown setting.*tau"):
        chamber_from_settings({"tau": "10 min"}, clock=Clock())
    with pytest.raises(ValueError, match="time_constant"):
        chamber_from_settings({"time_constant": "10 K"}, clock=Clock())
    with pytest.raises(ValueError, match="time constant must be > 0"):
        chamber_from_settings({"time_constant": 0}, clock=Clock())


# -- in the instrument -------------------------------------------------------------------


def test_the_instrument_builds_its_chamber_from_the_cell_file_or_the_argument() -> None:
    assert SimInstrument([blocking_cell()]).chamber is None
    from_cell = SimInstrument([blocking_cell(chamber={"time_constant": "5 min"})]).chamber
    assert from_cell is not None and from_cell.time_constant_s == 300.0
    assert SimInstrument([blocking_cell(chamber={})], chamber=False).chamber is None
    default = SimInstrument([blocking_cell()], chamber=True).chamber
    assert default is not None and default.time_constant_s == 600.0
    given = SimInstrument([blocking_cell()], chamber={"oscillation": "1 K"}).chamber
    assert given is not None and given.oscillation_K == 1.0
    assert given.identity.model == "simulated chamber"


def test_the_chamber_lives_on_channel_ones_clock() -> None:
    instrument = SimInstrument([blocking_cell()], chamber={"noise": 0})
    chamber = instrument.chamber
    assert chamber is not None
    chamber.set_temperature(333.15)
    run(instrument.channels[0], rest(600.0))
    assert chamber.read().temperature_K == pytest.approx(298.15 + 35 * (1 - math.exp(-1)))


def test_the_t_column_follows_the_chamber() -> None:
    instrument = SimInstrument([blocking_cell()], chamber={"noise": "0.02 K"})
    chamber = instrument.chamber
    assert chamber is not None
    chamber.set_temperature(333.15)
    points, _ = run(instrument.channels[0], rest(3600.0))
    expected = 333.15 - 35.0 * np.exp(-points["t"] / 600.0)
    assert points["T"] == pytest.approx(expected, abs=0.1)
    assert (points["T"] - expected).std() == pytest.approx(0.02, rel=0.2)
    # a second step goes on on the same clock
    more, _ = run(instrument.channels[0], rest(60.0))
    later = 333.15 - 35.0 * np.exp(-(3600.0 + more["t"]) / 600.0)
    assert more["T"] == pytest.approx(later, abs=0.1)


def test_the_cell_takes_the_chambers_temperature_and_its_conductivity_follows() -> None:
    instrument = SimInstrument([blocking_cell()], chamber={"noise": 0})
    chamber, ch = instrument.chamber, instrument.channels[0]
    assert chamber is not None and isinstance(ch.model, BlockingCell)
    _, cold, _, _ = run_eis(ch, eis_step(1e5, 10.0))
    r_cold = ch.model.bulk_resistance_ohm
    chamber.set_temperature(353.15)
    run(ch, rest(4 * 3600.0))
    _, hot, _, _ = run_eis(ch, eis_step(1e5, 10.0))
    r_hot = ch.model.bulk_resistance_ohm
    assert ch.model.temperature_K == pytest.approx(353.15, abs=1e-6)
    assert hot["T"] == pytest.approx(353.15, abs=1e-6)
    assert cold["T"] == pytest.approx(298.15, abs=1e-6)
    ratio = math.exp(-0.30 * 1.602176634e-19 / 1.380649e-23 * (1 / 298.15 - 1 / 353.15))
    assert r_hot == pytest.approx(r_cold * ratio, rel=1e-6)
    # the high-frequency point reads R_b (+ the CPE's 0.1 Ω in phase at 100 kHz)
    assert cold["Zre"][0] == pytest.approx(r_cold, abs=0.15)
    assert hot["Zre"][0] == pytest.approx(r_hot, abs=0.15)


def test_an_insertion_cell_in_a_chamber_reports_its_temperature() -> None:
    instrument = SimInstrument([coin_cell()], chamber={"noise": 0, "ambient": "40 degC"})
    ch = instrument.channels[0]
    points, _ = run(ch, rest(10.0))
    assert isinstance(ch.model, InsertionCell)
    assert ch.model.temperature_K == pytest.approx(313.15)
    assert points["T"] == pytest.approx(313.15)
