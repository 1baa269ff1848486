from __future__ import annotations

import numpy as np

from cyclerctl.drivers.base import SAMPLE_DTYPE
from cyclerctl.engine.recording import EVERY_TOLERANCE, Recorder
from cyclerctl.plan import RecordCriteria


def _block(t: np.ndarray, V: np.ndarray, I: np.ndarray | None = None) -> np.ndarray:
    b = np.zeros(len(t), dtype=SAMPLE_DTYPE)
    b["t"], b["V"] = t, V
    b["I"] = 0.0 if I is None else I
    return b


def _reference(block: np.ndarray, c: RecordCriteria) -> list[int]:
    """Point-by-point statement of the rule, to check the vectorised one against."""
    kept = [0]
    for i in range(1, len(block)):
        r = block[kept[-1]]
        p = block[i]
        if (
            (c.every_s is not None and p["t"] - r["t"] >= c.every_s * (1 - EVERY_TOLERANCE))
            or (c.delta_V is not None and abs(p["V"] - r["V"]) >= c.delta_V)
            or (c.delta_I is not None and abs(p["I"] - r["I"]) >= c.delta_I)
        ):
            kept.append(i)
    return kept


def test_every_dt_or_dv_matches_the_point_by_point_rule_across_blocks() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(5000, dtype=float)
    V = 3.7 + np.cumsum(rng.normal(0, 0.002, t.size))
    I = 1e-3 + np.cumsum(rng.normal(0, 1e-6, t.size))
    block = _block(t, V, I)
    c = RecordCriteria(every_s=10.0, delta_V=0.005, delta_I=2e-5)
    rec = Recorder(c)
    got: list[int] = []
    for start in range(0, len(block), 777):  # blocks of odd size
        part = block[start : start + 777]
        got.extend(start + int(i) for i in rec.select(part, step_ended=False))
    assert got == _reference(block, c)


def test_last_point_of_a_step_is_always_kept() -> None:
    block = _block(np.arange(25, dtype=float), np.full(25, 3.0))
    keep = Recorder(RecordCriteria(every_s=10.0)).select(block, step_ended=True)
    assert list(keep) == [0, 10, 20, 24]


def test_no_criteria_keeps_everything() -> None:
    block = _block(np.arange(5, dtype=float), np.full(5, 3.0))
    assert list(Recorder(RecordCriteria()).select(block, step_ended=False)) == [0, 1, 2, 3, 4]


def test_every_dt_keeps_its_interval_when_time_stamps_read_a_hair_early() -> None:
    # an EClib row stamped in float32: 1 s, 2 s, ... read as 0.999999, 1.999998, ...
    t = np.arange(0, 21, dtype=float) * (1 - 1.01e-6)
    rec = Recorder(RecordCriteria(every_s=2.0))
    kept = rec.select(_block(t, np.zeros(t.size)), step_ended=False)
    assert list(kept) == list(range(0, 21, 2))
