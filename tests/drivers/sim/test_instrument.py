"""The simulated cycler as an instrument: identity, channels, seeds, models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cyclerctl import __version__
from cyclerctl.drivers.base import Channel, Instrument
from cyclerctl.drivers.sim import SimChannel, SimInstrument, build_cell_model

from .helpers import cc_discharge, cccv_charge, coin_cell, rest, run


def test_it_is_an_instrument_with_one_channel_per_cell() -> None:
    instrument = SimInstrument([coin_cell(), coin_cell()], name="bench")
    assert isinstance(instrument, Instrument)
    instrument.connect()
    assert [c.name for c in instrument.channels] == ["bench:1", "bench:2"]
    assert all(isinstance(c, Channel) for c in instrument.channels)
    identity = instrument.identity
    assert (identity.driver, identity.vendor, identity.model) == (
        "sim",
        "cyclerctl",
        "simulated cycler",
    )
    assert identity.firmware == __version__
    assert identity.serial == SimInstrument([], name="bench").identity.serial
    assert identity.serial != SimInstrument([], name="other").identity.serial
    instrument.close()


def test_capabilities() -> None:
    caps = SimInstrument([coin_cell()]).channels[0].capabilities
    assert caps.step_kinds == {"rest", "cc", "cv", "cccv", "eis", "sweep"}
    assert caps.native_end_conditions == {
        "voltage_above",
        "voltage_below",
        "current_below",
        "time",
        "charge",
        "dvdt_below",
        "short",
    }
    assert caps.voltage_range_V == (-5.0, 5.0)
    assert caps.current_max_A == 0.1
    assert caps.eis and caps.frequency_range_Hz == (1e-3, 1e6)
    assert caps.virtual_time
    assert not SimInstrument([coin_cell()], realtime=True).channels[0].capabilities.virtual_time


def cycle(instrument: SimInstrument, index: int = 0) -> np.ndarray:
    ch = instrument.channels[index]
    return np.concatenate([run(ch, s)[0] for s in (cccv_charge(), rest(), cc_discharge())])


def test_same_seed_same_points_different_seed_different_noise() -> None:
    a = cycle(SimInstrument([coin_cell()], seed=7))
    b = cycle(SimInstrument([coin_cell()], seed=7))
    c = cycle(SimInstrument([coin_cell()], seed=8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a["V"], c["V"])
    # noise never moves where a step ends: the cell decides, not the noise
    assert np.array_equal(a["t"], c["t"])
    assert np.array_equal(a["Q"], c["Q"])


def test_the_cell_files_seed_is_used_unless_the_instrument_overrides_it() -> None:
    a = cycle(SimInstrument([coin_cell(seed=5)]))
    b = cycle(SimInstrument([coin_cell(seed=5)]))
    c = cycle(SimInstrument([coin_cell(seed=6)]))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    d = cycle(SimInstrument([coin_cell(seed=5)], seed=99))
    e = cycle(SimInstrument([coin_cell(seed=6)], seed=99))
    assert np.array_equal(d, e)


def test_two_channels_with_the_same_cell_show_different_noise() -> None:
    instrument = SimInstrument([coin_cell(), coin_cell()])
    assert not np.array_equal(cycle(instrument, 0)["V"], cycle(instrument, 1)["V"])


def test_unknown_model_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'li-ni'.*ncm622-li"):
        SimInstrument([coin_cell(model="li-ni")])
    no_model = dataclasses.replace(coin_cell(), sim={})
    with pytest.raises(ValueError, match=r"no \[sim\] model.*ncm622-li"):
        build_cell_model(no_model)


def test_channels_are_sim_channels() -> None:
    instrument: Instrument = SimInstrument([coin_cell()])  # mypy checks the protocols here
    channel: Channel = instrument.channels[0]
    assert isinstance(channel, SimChannel)
