"""End conditions as the simulated channel evaluates them: natively, on noiseless values.

A real cycler ends a step on its own analogue comparators; the simulator ends it on the
model's noiseless V, I and Q, so where a step ends does not depend on the noise seed. The
rules match the engine's host evaluation (``cyclerctl.engine.conditions``): dV/dt over a
window once one window has passed, and a short as |V| collapsing below a fraction of its
settled level (the running maximum once the step has run ``SHORT_SETTLE_S``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cyclerctl.plan import EndCondition, Ref

from .model import FloatArray

DEFAULT_DVDT_WINDOW_S = 60.0
SHORT_SETTLE_S = 5.0
#: Where a crossing is searched to: |f| below this (V for voltages, C for charge).
CROSSING_TOLERANCE = 1e-9

BoolArray = npt.NDArray[np.bool_]


class StepWatch:
    """The conditions of one running step, with the history dV/dt and shorts need."""

    def __init__(self, conditions: Sequence[EndCondition], t_start_s: float) -> None:
        self.conditions = tuple(conditions)
        self._t_start = t_start_s
        windows = [_window(c) for c in self.conditions if c.kind == "dvdt_below"]
        self._keep_s = max(windows, default=0.0)
        self._history_t = np.empty(0)
        self._history_V = np.empty(0)
        self._short_level = -np.inf

    def first_met(
        self,
        t: FloatArray,
        voltage: FloatArray,
        current: FloatArray,
        charge: FloatArray,
        *,
        cc_phase: bool,
    ) -> tuple[int, tuple[EndCondition, ...]] | None:
        """The first point that meets a condition, and every condition it meets.

        ``cc_phase``: the CC phase of a CC-CV step, where ``current_below`` does not apply.
        """
        masks: list[tuple[EndCondition, BoolArray]] = []
        for condition in self.conditions:
            mask = self._mask(condition, t, voltage, current, charge, cc_phase=cc_phase)
            if mask is not None and mask.any():
                masks.append((condition, mask))
        if not masks:
            return None
        index = min(int(np.argmax(mask)) for _, mask in masks)
        return index, tuple(c for c, mask in masks if mask[index])

    def remember(self, t: FloatArray, V: FloatArray) -> None:
        """Points that really happened: the history the next block is judged against."""
        settled = t - self._t_start >= SHORT_SETTLE_S
        if settled.any():
            self._short_level = max(self._short_level, float(np.abs(V[settled]).max()))
        if self._keep_s > 0:
            t_all = np.concatenate((self._history_t, t))
            V_all = np.concatenate((self._history_V, V))
            keep = t_all >= t_all[-1] - 2 * self._keep_s
            self._history_t, self._history_V = t_all[keep], V_all[keep]

    def _mask(
        self,
        condition: EndCondition,
        t: FloatArray,
        voltage: FloatArray,
        current: FloatArray,
        charge: FloatArray,
        *,
        cc_phase: bool,
    ) -> BoolArray | None:
        value = si(condition.value)
        match condition.kind:
            case "voltage_above":
                return np.greater_equal(voltage, value)
            case "voltage_below":
                return np.less_equal(voltage, value)
            case "current_below":
                return None if cc_phase else np.abs(current) < value
            case "time":
                return t >= value - 1e-9 * max(1.0, abs(value))
            case "charge":
                return np.abs(charge) >= value
            case "dvdt_below":
                return self._dvdt_mask(t, voltage, value, _window(condition))
            case "short":
                return self._short_mask(t, voltage, value)
        return None

    def _dvdt_mask(self, t: FloatArray, V: FloatArray, limit: float, window: float) -> BoolArray:
        t_all = np.concatenate((self._history_t, t))
        V_all = np.concatenate((self._history_V, V))
        earlier = np.maximum(np.searchsorted(t_all, t - window, side="right") - 1, 0)
        span = t - t_all[earlier]
        rate = np.abs(V - V_all[earlier]) / np.where(span > 0, span, np.inf)
        ripe = (t - self._t_start >= window) & (span >= 0.999 * window)
        return ripe & (rate < limit)

    def _short_mask(self, t: FloatArray, V: FloatArray, fraction: float) -> BoolArray:
        abs_V = np.abs(V)
        settled = t - self._t_start >= SHORT_SETTLE_S
        level = np.maximum.accumulate(np.where(settled, abs_V, -np.inf))
        level = np.maximum(level, self._short_level)
        return settled & (abs_V < fraction * level)


def find_crossing(
    f: Callable[[float], float], span: float, f_before: float, f_after: float
) -> float:
    """Where f crosses 0 in [0, span], given f(0) < 0 ≤ f(span) (Illinois regula falsi).

    f comes from the model, so each call is one exact evaluation; between two samples a
    cell's response is smooth and two or three calls usually reach the tolerance.
    """
    a, fa, b, fb = 0.0, f_before, span, f_after
    x = span if fb == fa else a - fa * (b - a) / (fb - fa)
    side = 0
    for _ in range(12):
        fx = f(x)
        if abs(fx) <= CROSSING_TOLERANCE:
            return x
        if fx >= 0:
            b, fb = x, fx
            if side == 1:
                fa *= 0.5
            side = 1
        else:
            a, fa = x, fx
            if side == -1:
                fb *= 0.5
            side = -1
        if b - a <= 1e-12 * max(span, 1.0):
            break
        x = a - fa * (b - a) / (fb - fa)
    return b  # the met side: the step's last point must meet the condition


def si(value: float | Ref) -> float:
    """A bound step's value; a loop reference here means the engine forgot to bind it."""
    if isinstance(value, Ref):
        raise ValueError(f"unbound loop reference {value.variable!r} reached the simulator")
    return float(value)


def _window(condition: EndCondition) -> float:
    return condition.window_s or DEFAULT_DVDT_WINDOW_S

