"""Record criteria: which measured points are stored, as cyclers do it.

A point is stored when, since the last stored point, time has advanced by ``every_s``,
or |V| has moved by ``delta_V``, or |I| by ``delta_I``. The first and last point of every
step are always stored, so step boundaries and end values are exact in the data.
With no criterion at all, every point is stored.
"""

from __future__ import annotations

import numpy as np

from cyclerctl.plan import RecordCriteria

#: A point ``every_s`` after the last stored one is due even when its time stamp reads a hair
#: early: instruments stamp in float32 or on their own tick (an EClib row 2 s on reads
#: 1.999998 s), and a strict comparison would then store every third point, not every second.
EVERY_TOLERANCE = 1e-3


class Recorder:
    """Selects the points of one step to store, block by block."""

    def __init__(self, criteria: RecordCriteria) -> None:
        self.criteria = criteria
        self._last: tuple[float, float, float] | None = None  # t, V, I of the last stored point
        self._keep_all = (
            criteria.every_s is None and criteria.delta_V is None and criteria.delta_I is None
        )

    def select(self, block: np.ndarray, *, step_ended: bool) -> np.ndarray:
        """Indices into ``block`` of the points to store."""
        n = len(block)
        if n == 0:
            return np.empty(0, dtype=np.intp)
        if self._keep_all:
            keep = np.arange(n)
        else:
            keep = self._select(block)
            if step_ended and (keep.size == 0 or keep[-1] != n - 1):
                keep = np.append(keep, n - 1)
            if keep.size == 0:
                return keep
        last = keep[-1]
        self._last = (float(block["t"][last]), float(block["V"][last]), float(block["I"][last]))
        return keep

    def _select(self, block: np.ndarray) -> np.ndarray:
        t = block["t"]
        V = block["V"]
        I = block["I"]
        every = self.criteria.every_s
        dV = self.criteria.delta_V
        dI = self.criteria.delta_I
        kept: list[int] = []
        start = 0
        if self._last is None:  # the step's first point
            kept.append(0)
            start = 1
            ref_t, ref_V, ref_I = float(t[0]), float(V[0]), float(I[0])
        else:
            ref_t, ref_V, ref_I = self._last
        n = len(block)
        # Jump from stored point to stored point, each jump a vectorised search over a window of
        # the points that follow: the cost scales with what is stored, not with what is measured.
        window = 64
        while start < n:
            stop = min(n, start + window)
            due = np.zeros(stop - start, dtype=bool)
            if every is not None:
                due |= t[start:stop] - ref_t >= every * (1 - EVERY_TOLERANCE)
            if dV is not None:
                due |= np.abs(V[start:stop] - ref_V) >= dV
            if dI is not None:
                due |= np.abs(I[start:stop] - ref_I) >= dI
            hits = np.flatnonzero(due)
            if hits.size == 0:
                if stop == n:
                    break
                start, window = stop, window * 2  # nothing due yet: look further, wider
                continue
            i = start + int(hits[0])
            kept.append(i)
            ref_t, ref_V, ref_I = float(t[i]), float(V[i]), float(I[i])
            start, window = i + 1, 64
        return np.asarray(kept, dtype=np.intp)
