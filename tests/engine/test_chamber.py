from __future__ import annotations

import numpy as np

from cyclerctl.engine.chamber import StabilityWatch
from cyclerctl.plan import ChamberSettings


def _reference(t: np.ndarray, T: np.ndarray, sp: float, tol: float, soak: float) -> int | None:
    since = None
    for i in range(len(t)):
        if abs(T[i] - sp) <= tol:
            since = t[i] if since is None else since
            if t[i] - since >= soak - 1e-9:
                return i
        else:
            since = None
    return None


def test_first_order_approach_is_stable_after_the_soak_across_blocks() -> None:
    t = np.arange(0.0, 7200.0, 1.0)
    T = 333.15 + (303.15 - 333.15) * np.exp(-t / 600.0)
    watch = StabilityWatch(ChamberSettings(333.15, 0.5, 1800.0, 14400.0))
    expected = _reference(t, T, 333.15, 0.5, 1800.0)
    got = None
    for start in range(0, t.size, 997):
        hit = watch.first_stable(t[start : start + 997], T[start : start + 997])
        if hit is not None:
            got = start + hit
            break
    assert got == expected and expected is not None


def test_an_oscillating_chamber_never_settles() -> None:
    t = np.arange(0.0, 14400.0, 1.0)
    T = 333.15 + 1.5 * np.sin(2 * np.pi * t / 900.0)
    watch = StabilityWatch(ChamberSettings(333.15, 0.5, 1800.0, 14400.0))
    assert all(
        watch.first_stable(t[s : s + 500], T[s : s + 500]) is None for s in range(0, t.size, 500)
    )


def test_leaving_the_band_restarts_the_soak() -> None:
    t = np.arange(0.0, 100.0, 1.0)
    T = np.full(t.size, 300.0)
    T[40] = 302.0  # one excursion
    watch = StabilityWatch(ChamberSettings(300.0, 0.5, 30.0, 1000.0))
    assert watch.first_stable(t, T) == 30  # 0..30 in band already completes
    watch = StabilityWatch(ChamberSettings(300.0, 0.5, 50.0, 1000.0))
    assert watch.first_stable(t, T) == 91  # restarted at 41
