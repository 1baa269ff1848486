"""Reading the shape of an impedance spectrum: cleaning, the arc, starting values for a fit.

Everything here works on points sorted from the highest frequency down, with Z = Z' + jZ''
(Z'' negative where the cell is capacitive, as the store keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclerctl.analysis.circuits import Complexes, Floats

#: An arc is "resolved" when −Z'' falls by this fraction of its peak after the peak ...
ARC_DROP = 0.2
#: ... and the peak is at least this fraction of Z' where the arc ends (not a noise wiggle).
ARC_MIN_HEIGHT = 0.1
#: Fewest points from the highest frequency to the arc's end to fit an arc (R-RQ: 4 params).
ARC_MIN_POINTS = 6


def clean(f_Hz: Floats, Z: Complexes) -> tuple[Floats, Complexes]:
    """Finite points at positive frequency, highest frequency first."""
    f = np.asarray(f_Hz, dtype=np.float64)
    z = np.asarray(Z, dtype=np.complex128)
    if f.shape != z.shape:
        raise ValueError(f"f and Z differ in shape: {f.shape} vs {z.shape}")
    keep = np.isfinite(f) & (f > 0) & np.isfinite(z.real) & np.isfinite(z.imag)
    order = np.argsort(-f[keep], kind="stable")
    return f[keep][order], z[keep][order]


def capacitive(f: Floats, Z: Complexes) -> tuple[Floats, Complexes, int]:
    """The points with −Z'' ≥ 0 and how many inductive ones were left out (as impedance.py's
    ``ignoreBelowX``: cable inductance at high frequency is not the cell)."""
    keep = -Z.imag >= 0
    return f[keep], Z[keep], int((~keep).sum())


def _smooth(y: Floats) -> Floats:
    """Running median of three: one noisy point does not make a peak or a valley."""
    if y.size < 3:
        return y.copy()
    out = y.copy()
    out[1:-1] = np.median(np.stack([y[:-2], y[1:-1], y[2:]]), axis=0)
    return out


@dataclass(frozen=True, slots=True)
class Arc:
    """A resolved high-frequency arc: indices into the points, highest frequency first."""

    peak: int  # where −Z'' is largest on the arc
    end: int  # the valley after it (where a spike or a tail begins), or the last point


def find_arc(f: Floats, Z: Complexes) -> Arc | None:
    """The first resolved arc from the high-frequency end, or None (a bare spike/tail)."""
    y = _smooth(-Z.imag)
    n = y.size
    for i in range(n - 1):
        if (i > 0 and y[i] < y[i - 1]) or y[i] < y[i + 1] or y[i] <= 0:
            continue  # not a local maximum
        rest = y[i + 1 :]
        higher = np.flatnonzero(rest > y[i])
        stop = int(higher[0]) if higher.size else rest.size  # the arc ends before this
        end = i + 1 + int(np.argmin(rest[:stop])) if stop > 0 else i
        resolved = y[end] <= (1.0 - ARC_DROP) * y[i]
        tall = y[i] >= ARC_MIN_HEIGHT * Z.real[end]
        if resolved and tall and end + 1 >= ARC_MIN_POINTS:
            return Arc(peak=i, end=end)
    return None


def guesses(name: str, f: Floats, Z: Complexes) -> list[dict[str, float]]:
    """Starting points for a fit of circuit ``name`` read off the data (several: the fit
    keeps the best, so one poor guess does not decide the result)."""
    omega = 2.0 * np.pi * f
    zmod = float(np.abs(Z).max())
    tiny = 1e-6 * zmod
    arc = find_arc(f, Z)
    end = arc.end if arc is not None else f.size - 1
    peak = arc.peak if arc is not None else int(np.argmax(-Z.imag[: end + 1]))
    r_hf = max(float(Z.real[0]), tiny)
    starts: list[dict[str, float]] = []
    for r0_scale in (1.0, 0.3):
        for n in (0.9, 0.75):
            r0 = max(r0_scale * r_hf, tiny)
            if name == "R-CPE":
                y_lf = max(float(-Z.imag[-1]), tiny)
                q = np.sin(n * np.pi / 2.0) / (y_lf * omega[-1] ** n)
                starts.append({"R0": r0, "Q1": float(q), "n1": n})
                continue
            r1 = max(float(Z.real[end]) - r0, 0.05 * zmod)
            q = 1.0 / (r1 * omega[peak] ** n)
            start = {"R0": r0, "R1": r1, "Q1": float(q), "n1": n}
            if name == "R-RQ-W":
                y_lf = max(float(-Z.imag[-1]), tiny)
                start["Aw"] = y_lf * float(np.sqrt(omega[-1]))
            starts.append(start)
    return starts


def hf_intercept(f: Floats, Z: Complexes) -> float:
    """Z' where the spectrum meets (or comes closest to) the real axis at high frequency:
    interpolated where −Z'' crosses zero, else at the minimum of −Z'' (the valley between
    arc and spike, or the high-frequency end of a bare spike), refined by a parabola."""
    y = -Z.imag
    x = Z.real
    crossings = np.flatnonzero((y[:-1] < 0) & (y[1:] >= 0))
    if crossings.size:
        i = int(crossings[0])
        w = -y[i] / (y[i + 1] - y[i])
        return float(x[i] + w * (x[i + 1] - x[i]))
    i = int(np.argmin(y))
    if 0 < i < y.size - 1:
        # vertex of the parabola y(x) through the three points around the minimum
        xs, ys = x[i - 1 : i + 2], y[i - 1 : i + 2]
        if np.ptp(xs) > 0 and np.unique(xs).size == 3:
            a, b, _ = np.polyfit(xs, ys, 2)
            if a > 0:
                return float(np.clip(-b / (2 * a), xs.min(), xs.max()))
    return float(x[i])
