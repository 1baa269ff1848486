"""A smooth monotone curve through measured knots (PCHIP), in numpy only.

Open-circuit voltage curves are tabulated as knots and interpolated with the
shape-preserving piecewise cubic Hermite scheme of Fritsch & Carlson (the one behind
``scipy.interpolate.PchipInterpolator``): between knots the curve never overshoots, so a
monotone table gives a monotone OCV and no spurious plateaus or bumps. Outside the table it
continues as a straight line with the end slope, so over-charge and over-discharge stay
bounded and finite.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class MonotoneCurve:
    """y(x) through strictly increasing knots ``(x, y)``; y must be strictly monotone."""

    def __init__(self, x: Sequence[float], y: Sequence[float]) -> None:
        xs = np.asarray(x, dtype=float)
        ys = np.asarray(y, dtype=float)
        if xs.ndim != 1 or xs.shape != ys.shape or len(xs) < 3:
            raise ValueError("a curve needs at least three (x, y) knots")
        h = np.diff(xs)
        if np.any(h <= 0):
            raise ValueError("knots must have strictly increasing x")
        delta = np.diff(ys) / h
        if not (np.all(delta > 0) or np.all(delta < 0)):
            raise ValueError("knots must have strictly monotone y")
        d = _pchip_slopes(h, delta)
        self._x = xs
        self._y = ys
        self._d = d
        self._c2 = (3 * delta - 2 * d[:-1] - d[1:]) / h
        self._c3 = (d[:-1] + d[1:] - 2 * delta) / h**2
        # |y''| is linear within an interval: its bound is the larger of the two ends
        self._curvature = np.maximum(np.abs(2 * self._c2), np.abs(2 * self._c2 + 6 * self._c3 * h))
        self._x_list = xs.tolist()

    @property
    def knots(self) -> tuple[tuple[float, float], ...]:
        return tuple(zip(self._x.tolist(), self._y.tolist(), strict=True))

    def __call__(self, x: FloatArray) -> FloatArray:
        i = np.clip(np.searchsorted(self._x, x, side="right") - 1, 0, len(self._x) - 2)
        s = x - self._x[i]
        y: FloatArray = ((self._c3[i] * s + self._c2[i]) * s + self._d[i]) * s + self._y[i]
        low = x < self._x[0]
        high = x > self._x[-1]
        if low.any() or high.any():
            y = np.where(low, self._y[0] + self._d[0] * (x - self._x[0]), y)
            y = np.where(high, self._y[-1] + self._d[-1] * (x - self._x[-1]), y)
        return y

    def value(self, x: float) -> float:
        """y at one x, without numpy's per-call overhead (the CV hold calls this a lot)."""
        i, s, outside = self._locate(x)
        if outside:
            return float(self._y[i] + self._d[i] * s)
        return float(((self._c3[i] * s + self._c2[i]) * s + self._d[i]) * s + self._y[i])

    def slope(self, x: float) -> float:
        i, s, outside = self._locate(x)
        if outside:
            return float(self._d[i])
        return float((3 * self._c3[i] * s + 2 * self._c2[i]) * s + self._d[i])

    def curvature_bound(self, x: float) -> float:
        """An upper bound of |y''| on the interval holding x and its two neighbours."""
        i = min(max(bisect.bisect_right(self._x_list, x) - 1, 0), len(self._x_list) - 2)
        return float(self._curvature[max(i - 1, 0) : i + 2].max())

    def _locate(self, x: float) -> tuple[int, float, bool]:
        last = len(self._x_list) - 1
        if x < self._x_list[0]:
            return 0, x - self._x_list[0], True
        if x > self._x_list[last]:
            return last, x - self._x_list[last], True
        i = min(bisect.bisect_right(self._x_list, x) - 1, last - 1)
        return i, x - self._x_list[i], False


def _pchip_slopes(h: FloatArray, delta: FloatArray) -> FloatArray:
    """Knot slopes: weighted harmonic mean inside, a shape-preserving 3-point end formula."""
    d = np.zeros(len(h) + 1)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same_sign = delta[:-1] * delta[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    d[1:-1] = np.where(same_sign, harmonic, 0.0)
    d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3 * abs(m0):
        return 3 * m0
    return float(d)
