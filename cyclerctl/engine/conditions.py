"""End conditions the host evaluates on streamed samples.

Instruments that run a step on board end it themselves on the conditions they support
natively (``Capabilities.native_end_conditions``); the engine evaluates the rest here, on
each block as it arrives, and stops the channel at the first point that meets one.

Conditions look at whole numpy blocks; the little state they need across blocks (the
previous points for dV/dt, the settled |V| for a short) lives in :class:`HostConditions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclerctl.plan import EndCondition, Ref

DEFAULT_DVDT_WINDOW_S = 60.0
DEFAULT_SHORT_WINDOW_S = 1.0
#: |V| is "settled" once the step has run this long; a short is a collapse below that level.
SHORT_SETTLE_S = 5.0


@dataclass(frozen=True, slots=True)
class Hit:
    index: int  # index in the block of the first point that meets the condition
    reason: str
    condition: EndCondition


class HostConditions:
    """The conditions of one step that the channel does not evaluate itself."""

    def __init__(self, conditions: tuple[EndCondition, ...]) -> None:
        self.conditions = conditions
        self._history_t = np.empty(0)
        self._history_V = np.empty(0)
        self._settled_abs_V: float | None = None

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def first_hit(self, block: np.ndarray) -> Hit | None:
        """The earliest point in ``block`` that ends the step, if any."""
        if not self.conditions or len(block) == 0:
            return None
        best: Hit | None = None
        for condition in self.conditions:
            index = self._first_index(condition, block)
            if index is not None and (best is None or index < best.index):
                best = Hit(index, condition.reason, condition)
        self._remember(block)
        return best

    def _first_index(self, condition: EndCondition, block: np.ndarray) -> int | None:
        if isinstance(condition.value, Ref):
            raise TypeError(f"{condition.kind}: the step was not bound to its loop variables")
        value = condition.value
        kind = condition.kind
        if kind == "voltage_above":
            return _first(block["V"] >= value)
        if kind == "voltage_below":
            return _first(block["V"] <= value)
        if kind == "current_below":
            return _first(np.abs(block["I"]) < value)
        if kind == "time":
            return _first(block["t"] >= value)
        if kind == "charge":
            return _first(np.abs(block["Q"]) >= value)
        if kind == "dvdt_below":
            return self._dvdt_index(block, value, condition.window_s or DEFAULT_DVDT_WINDOW_S)
        if kind == "short":
            return self._short_index(block, value, condition.window_s or DEFAULT_SHORT_WINDOW_S)
        raise ValueError(f"unknown end condition {kind!r}")

    def _dvdt_index(self, block: np.ndarray, limit: float, window: float) -> int | None:
        t = np.concatenate([self._history_t, block["t"]])
        V = np.concatenate([self._history_V, block["V"]])
        offset = len(self._history_t)
        # for each new point, the point one window earlier (or the earliest there is)
        earlier = np.searchsorted(t, t[offset:] - window, side="right") - 1
        valid = earlier >= 0
        span = t[offset:] - t[np.maximum(earlier, 0)]
        rate = np.abs(V[offset:] - V[np.maximum(earlier, 0)]) / np.where(span > 0, span, np.inf)
        return _first(valid & (span >= window * 0.999) & (rate < limit))

    def _short_index(self, block: np.ndarray, fraction: float, window: float) -> int | None:
        """A collapse: |V| falls below ``fraction`` × the settled level. Only points after
        the step has run SHORT_SETTLE_S count, as judges and as the level: a plate that
        starts near 0 V and falls to its plateau is not a short (the simulator's own
        ``StepWatch`` rule). The level follows the cell's slow drift (a running maximum)."""
        abs_V = np.abs(block["V"])
        settled = block["t"] >= SHORT_SETTLE_S
        if not settled.any():
            return None
        before = -np.inf if self._settled_abs_V is None else self._settled_abs_V
        level = np.maximum(np.maximum.accumulate(np.where(settled, abs_V, -np.inf)), before)
        index = _first(settled & (abs_V < fraction * level))
        if index is None:
            self._settled_abs_V = float(level[-1])
        return index

    def _remember(self, block: np.ndarray) -> None:
        # keep just enough history for the longest dV/dt window
        window = max(
            (
                c.window_s or DEFAULT_DVDT_WINDOW_S
                for c in self.conditions
                if c.kind == "dvdt_below"
            ),
            default=0.0,
        )
        if window <= 0:
            return
        t = np.concatenate([self._history_t, block["t"]])
        V = np.concatenate([self._history_V, block["V"]])
        keep = t >= t[-1] - 2 * window
        self._history_t, self._history_V = t[keep], V[keep]


def _first(mask: np.ndarray) -> int | None:
    if mask.size == 0:
        return None
    index = int(np.argmax(mask))
    return index if mask[index] else None
