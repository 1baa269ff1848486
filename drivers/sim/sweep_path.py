"""The potential programme of a sweep step (LSV or CV), as straight segments in step time.

From the start potential (the OCV when the step gives none) through ``vertices_V`` in
order, ``cycles`` times: start → v1 → … → vn, then again v1 → … → vn for each further
cycle, all at ±``scan_rate``. A segment of zero length (a vertex equal to where the sweep
already is) is skipped. The step ends when the last vertex is reached ("done").

Samples: every sample interval, or every 1 mV of sweep if that is finer, so an LSV at
1 mV/s over 2 V has 2000 points at 1 s and a fast CV keeps 1 mV resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from cyclerctl.plan import SweepSettings

MAX_STEP_V = 1e-3


@dataclass(frozen=True, slots=True)
class Segment:
    t0_s: float  # step time at which the segment starts
    t1_s: float  # … and reaches its vertex
    start_V: float
    rate_V_s: float  # signed

    def voltage_at(self, t_s: float) -> float:
        """The programmed potential at step time ``t_s`` (held at the ends outside)."""
        return self.start_V + self.rate_V_s * (min(max(t_s, self.t0_s), self.t1_s) - self.t0_s)


def segments(settings: SweepSettings, start_V: float) -> tuple[Segment, ...]:
    """The segments from step time 0; at least one (of zero length if nothing moves)."""
    rate = settings.scan_rate_V_s
    out: list[Segment] = []
    t, here = 0.0, start_V
    for vertex in settings.vertices_V * settings.cycles:
        if vertex == here:
            continue
        duration = abs(vertex - here) / rate
        out.append(Segment(t, t + duration, here, rate if vertex > here else -rate))
        t, here = t + duration, vertex
    return tuple(out) or (Segment(0.0, 0.0, start_V, 0.0),)


def sample_interval_s(settings: SweepSettings, channel_interval_s: float) -> float:
    return min(channel_interval_s, MAX_STEP_V / settings.scan_rate_V_s)


def segment_index(path: tuple[Segment, ...], t_s: float) -> int:
    """The segment running at step time ``t_s`` (the last one once all are done)."""
    for index, segment in enumerate(path):
        if t_s < segment.t1_s - 1e-9:
            return index
    return len(path) - 1
