from __future__ import annotations

import numpy as np

from cyclerctl.drivers.base import SAMPLE_DTYPE
from cyclerctl.engine.conditions import HostConditions
from cyclerctl.plan import EndCondition


def _block(
    t: np.ndarray, V: np.ndarray, I: np.ndarray | float = 0.0, Q: np.ndarray | float = 0.0
) -> np.ndarray:
    b = np.zeros(len(t), dtype=SAMPLE_DTYPE)
    b["t"], b["V"], b["I"], b["Q"] = t, V, I, Q
    return b


def test_earliest_of_several_conditions_wins() -> None:
    t = np.arange(100, dtype=float)
    V = 3.0 + 0.01 * t
    host = HostConditions((EndCondition("voltage_above", 3.5), EndCondition("time", 30.0)))
    hit = host.first_hit(_block(t, V))
    assert hit is not None and hit.index == 30 and hit.reason == "time"


def test_current_below_and_charge() -> None:
    t = np.arange(50, dtype=float)
    I = 1e-3 * np.exp(-t / 10)
    hit = HostConditions((EndCondition("current_below", 1e-4),)).first_hit(
        _block(t, 4.3 + 0 * t, I)
    )
    assert hit is not None and hit.index == 24 and hit.reason == "limit:current"
    Q = -1e-3 * t
    hit = HostConditions((EndCondition("charge", 0.0205),)).first_hit(
        _block(t, 3 + 0 * t, -1e-3, Q)
    )
    assert hit is not None and hit.index == 21 and hit.reason == "limit:charge"


def test_dvdt_waits_a_full_window_and_spans_blocks() -> None:
    t = np.arange(0, 400, dtype=float)
    V = 3.0 + 0.5 * (1 - np.exp(-t / 40))  # slope 0.5/40*exp(-t/40) V/s
    host = HostConditions((EndCondition("dvdt_below", 1e-4, window_s=60.0),))
    b = _block(t, V)
    hit = None
    for start in range(0, 400, 50):
        hit = host.first_hit(b[start : start + 50])
        if hit is not None:
            hit_t = float(b["t"][start + hit.index])
            break
    assert hit is not None
    # |ΔV|/60 s over the trailing window first falls below 1e-4 V/s here:
    rate = np.abs(V[60:] - V[:-60]) / 60
    expected = float(t[60 + int(np.argmax(rate < 1e-4))])
    assert hit_t == expected


def test_short_is_a_collapse_of_the_settled_voltage() -> None:
    t = np.arange(0, 200, dtype=float)
    V = np.where(t < 150, -0.08 - 0.0001 * t, -0.003)
    host = HostConditions((EndCondition("short", 0.2, window_s=1.0),))
    hit = host.first_hit(_block(t[:100], V[:100]))
    assert hit is None
    hit = host.first_hit(_block(t[100:], V[100:]))
    assert hit is not None and hit.index == 50 and hit.reason == "short"


def test_a_plate_that_starts_near_0_V_is_not_a_short_before_it_settles() -> None:
    # Li on Cu after the SEI step: the plate starts at ~0 V and falls to its -50 mV plateau;
    # points before the settle time neither judge nor set the level (found on li-cu-ce)
    t = np.arange(0, 60, dtype=float)
    V = np.where(t < 2, -0.001 * t, -0.05)
    host = HostConditions((EndCondition("short", 0.2, window_s=1.0),))
    assert host.first_hit(_block(t, V)) is None
    later = np.arange(60, 70, dtype=float)
    hit = host.first_hit(_block(later, np.where(later < 65, -0.05, -0.002)))
    assert hit is not None and hit.index == 5
