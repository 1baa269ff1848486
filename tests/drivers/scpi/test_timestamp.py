"""The 2400's TIME element made monotonic across its wrap at 99 999.999 s."""

from __future__ import annotations

import math

import numpy as np

from cyclerctl.drivers.scpi.timestamp import TIMESTAMP_PERIOD_S, Timestamps


def test_a_wrap_inside_a_burst_and_between_bursts_adds_one_period_each() -> None:
    stamps = Timestamps()
    first = stamps.unwrap(np.array([99_998.0, 99_999.0, 0.0, 1.0]))
    assert first.tolist() == [99_998.0, 99_999.0, 100_000.0, 100_001.0]
    # a period later (read at least every 13.9 h, as assumed) it starts over again
    for raw in (40_000.0, 80_000.0, 99_999.0):
        stamps.unwrap(np.array([raw]))
    second = stamps.unwrap(np.array([3.0]))
    assert second.tolist() == [2 * TIMESTAMP_PERIOD_S + 3.0] and stamps.wraps == 2


def test_readings_seen_before_stay_old_and_nan_stays_nan() -> None:
    stamps = Timestamps()
    stamps.unwrap(np.array([99_999.0, 1.0]))  # wrapped once
    # the same reading again, one from just before it, one from before the wrap, no time
    again = stamps.unwrap(np.array([1.0, 0.5, 99_999.0, math.nan]))
    assert again[:3].tolist() == [100_001.0, 100_000.5, 99_999.0]  # the driver drops these
    assert math.isnan(again[3]) and stamps.wraps == 1


def test_a_reset_starts_the_count_over() -> None:
    stamps = Timestamps()
    stamps.unwrap(np.array([99_999.0, 0.0]))
    stamps.reset()
    assert stamps.unwrap(np.array([0.0, 2.0])).tolist() == [0.0, 2.0] and stamps.wraps == 0
