from __future__ import annotations

import numpy as np

from cyclerctl.drivers.base import SAMPLE_DTYPE
from cyclerctl.engine.safety import SafetyMonitor, combine
from cyclerctl.plan import SafetyLimit


def _block(t: list[float], V: list[float], I: float = 0.0) -> np.ndarray:
    b = np.zeros(len(t), dtype=SAMPLE_DTYPE)
    b["t"], b["V"], b["I"] = t, V, I
    b["T"] = np.nan
    return b


def test_protocol_cannot_widen_a_hard_limit() -> None:
    hard = (SafetyLimit("voltage_max", 4.4), SafetyLimit("current_max", 0.01))
    protocol = (
        SafetyLimit("voltage_max", 4.6),
        SafetyLimit("voltage_min", 2.8),
        SafetyLimit("current_max", 0.005),
    )
    got = {lim.quantity: lim.value for lim in combine(hard, protocol)}
    assert got == {"voltage_max": 4.4, "voltage_min": 2.8, "current_max": 0.005}


def test_first_breaching_point_is_reported() -> None:
    m = SafetyMonitor((SafetyLimit("voltage_max", 4.4), SafetyLimit("voltage_min", 2.8)))
    assert m.check(_block([0, 1, 2], [4.0, 4.1, 4.2])) is None
    breach = m.check(_block([3, 4, 5], [4.3, 4.41, 4.5]))
    assert breach is not None and breach.index == 1 and breach.reason == "safety:voltage_max"
    assert m.check(_block([0, 1], [2.9, 2.7])).reason == "safety:voltage_min"  # type: ignore[union-attr]


def test_time_qualified_limit_needs_the_excursion_to_last_across_blocks() -> None:
    m = SafetyMonitor(
        (SafetyLimit("voltage_max", 4.45, hold_s=0.1),),
    )
    # a 50 ms spike is ignored
    assert m.check(_block([0.0, 0.05, 0.10], [4.3, 4.5, 4.3])) is None
    # an excursion that starts in one block and lasts into the next trips at 100 ms
    assert m.check(_block([0.20, 0.25], [4.3, 4.5])) is None
    breach = m.check(_block([0.30, 0.35, 0.40], [4.5, 4.5, 4.5]))
    assert breach is not None and breach.index == 1 and breach.since_t == 0.25


def test_unknown_temperature_never_trips_and_current_is_on_magnitude() -> None:
    m = SafetyMonitor((SafetyLimit("temperature_max", 333.15), SafetyLimit("current_max", 1e-3)))
    assert m.check(_block([0, 1], [3.0, 3.0], I=-5e-4)) is None
    assert m.check(_block([2], [3.0], I=-2e-3)).reason == "safety:current_max"  # type: ignore[union-attr]


def test_a_protocol_can_neither_lower_a_hard_floor_nor_lengthen_a_hard_hold() -> None:
    hard = (
        SafetyLimit("voltage_min", 2.8),
        SafetyLimit("voltage_max", 4.45, hold_s=0.1),
        SafetyLimit("temperature_max", 333.15),
    )
    protocol = (
        SafetyLimit("voltage_min", 2.5),  # lower: wider, ignored
        SafetyLimit("voltage_max", 4.45, hold_s=5.0),  # a longer excursion allowed: ignored
        SafetyLimit("temperature_max", 353.15),
    )
    got = {lim.quantity: (lim.value, lim.hold_s) for lim in combine(hard, protocol)}
    assert got == {
        "voltage_max": (4.45, 0.1),
        "voltage_min": (2.8, 0.0),
        "temperature_max": (333.15, 0.0),
    }
    # the order of the layers does not matter: the strictest wins either way
    assert combine(protocol, hard) == combine(hard, protocol)


def test_a_temperature_above_the_limit_trips_at_the_first_known_point() -> None:
    m = SafetyMonitor((SafetyLimit("temperature_max", 333.15),))
    block = _block([0, 1, 2, 3], [3.0] * 4)
    block["T"] = [np.nan, 330.0, np.nan, 334.0]  # unknown points neither trip nor hide one
    breach = m.check(block)
    assert breach is not None and breach.index == 3 and breach.measured == 334.0
    assert breach.reason == "safety:temperature_max" and "334 K" in breach.describe()
