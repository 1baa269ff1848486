"""Safety limits, checked on every sample block whatever the step is doing.

Limits come in layers, as trusted cyclers do it: hard per-channel limits from the config,
then the protocol's. A protocol can only narrow a hard limit, never widen it, so the
effective limit for each quantity is the strictest of the layers. A limit may carry a
time qualifier: ``V > 4.45 V for > 100 ms`` trips only when the excursion lasts that long.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import SafetyLimit

_STRICTER = {
    "voltage_max": min,
    "voltage_min": max,
    "current_max": min,
    "temperature_max": min,
}


@dataclass(frozen=True, slots=True)
class Breach:
    index: int  # index in the block of the point at which the limit trips
    limit: SafetyLimit
    measured: float  # the value at that point (V, A, K)
    since_t: float  # step time at which the excursion began

    @property
    def reason(self) -> str:
        return self.limit.reason

    def describe(self) -> str:
        unit = {"voltage_max": "V", "voltage_min": "V", "current_max": "A", "temperature_max": "K"}
        u = unit[self.limit.quantity]
        held = f" for {self.limit.hold_s:g} s" if self.limit.hold_s else ""
        return (
            f"{self.limit.quantity} {self.limit.value:g} {u} breached{held}: "
            f"measured {self.measured:.6g} {u}"
        )


def combine(*layers: Iterable[SafetyLimit]) -> tuple[SafetyLimit, ...]:
    """One limit per quantity: the strictest value, and the shortest hold, of all layers."""
    chosen: dict[str, SafetyLimit] = {}
    for layer in layers:
        for limit in layer:
            held = chosen.get(limit.quantity)
            if held is None:
                chosen[limit.quantity] = limit
                continue
            stricter = _STRICTER[limit.quantity](held.value, limit.value)
            chosen[limit.quantity] = SafetyLimit(
                limit.quantity, stricter, min(held.hold_s, limit.hold_s)
            )
    return tuple(chosen[q] for q in _STRICTER if q in chosen)


class SafetyMonitor:
    """Checks blocks against the limits; remembers excursions that span blocks."""

    def __init__(self, limits: tuple[SafetyLimit, ...]) -> None:
        self.limits = limits
        self._excursion_since: dict[str, float | None] = {lim.quantity: None for lim in limits}

    def reset(self) -> None:
        """A new step: step time restarts, so excursions are measured afresh."""
        self._excursion_since = dict.fromkeys(self._excursion_since)

    def check(self, block: np.ndarray) -> Breach | None:
        """The first point in ``block`` at which any limit trips, or None."""
        if len(block) == 0:
            return None
        first: Breach | None = None
        for limit in self.limits:
            breach = self._check_one(limit, block)
            if breach is not None and (first is None or breach.index < first.index):
                first = breach
        return first

    def _check_one(self, limit: SafetyLimit, block: np.ndarray) -> Breach | None:
        values = _measured(limit, block)
        if values is None:
            return None
        outside = values > limit.value if limit.quantity != "voltage_min" else values < limit.value
        t = block["t"]
        since = self._excursion_since[limit.quantity]
        if limit.hold_s <= 0:
            hits = np.flatnonzero(outside)
            if hits.size:
                i = int(hits[0])
                return Breach(i, limit, float(values[i]), float(t[i]))
            return None
        # time-qualified: walk the excursions (runs of True) in this block
        for i in range(len(block)):
            if outside[i]:
                if since is None:
                    since = float(t[i])
                if t[i] - since >= limit.hold_s - 1e-9:  # float timestamps
                    self._excursion_since[limit.quantity] = since
                    return Breach(i, limit, float(values[i]), since)
            else:
                since = None
        self._excursion_since[limit.quantity] = since
        return None


def _measured(limit: SafetyLimit, block: np.ndarray) -> np.ndarray | None:
    if limit.quantity in ("voltage_max", "voltage_min"):
        voltage: np.ndarray = block["V"]
        return voltage
    if limit.quantity == "current_max":
        current: np.ndarray = np.abs(block["I"])
        return current
    temperature: np.ndarray = block["T"]
    if np.isnan(temperature).all():
        return None
    known: np.ndarray = np.where(np.isnan(temperature), -np.inf, temperature)  # unknown: no trip
    return known
