"""Where an interrupted run picks up again, read from the database (never from memory).

The checkpoint names the step (plan index + loop counters), its elapsed time and charge,
and the last sample it covers. Samples may have been committed after the checkpoint (the
writer commits in batches, the checkpoint rides on them but a batch can close between a
block and its checkpoint): the highest stored sample is then the better place to resume
from, so a resumed step continues after the last stored point rather than overlapping it.
Sequence numbers always continue after the highest stored one: no duplicate, no hole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from cyclerctl.store import Checkpoint, StepRecord, Store
from cyclerctl.store.records import utcnow


@dataclass(frozen=True, slots=True)
class LastSample:
    """The newest stored point of a run: its seq, run time, step charge and step ordinal."""

    seq: int
    t: float
    Q: float
    step: int


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Everything the engine needs to re-enter a run where it stopped."""

    checkpoint: Checkpoint
    step: StepRecord | None = None  # the steps row of checkpoint.step (None: unknown)
    next_step: StepRecord | None = None  # the row after it, if one was started
    last_seq: int | None = None  # highest stored sample seq (None: the checkpoint's)
    last_impedance_seq: int | None = None
    last_sample: LastSample | None = None  # when it is newer than the checkpoint
    gap_s: float | None = None  # wall seconds since the last data (None: not measured)

    @property
    def start_seq(self) -> int:
        return self.checkpoint.last_seq if self.last_seq is None else self.last_seq

    @property
    def start_impedance_seq(self) -> int:
        if self.last_impedance_seq is None:
            return self.checkpoint.last_impedance_seq
        return self.last_impedance_seq


def load_resume_point(
    store: Store, run_id: int, *, now: datetime | None = None
) -> ResumePoint | None:
    """The resume point of ``run_id``; None when it never started a step (start afresh).

    A run interrupted before its first checkpoint was committed (its first seconds, in
    virtual time) resumes from the newest step row and the newest stored point instead.
    """
    checkpoint = store.checkpoint(run_id)
    rows = {row.step: row for row in store.steps(run_id)}
    synthesized = checkpoint is None
    if checkpoint is None:
        if not rows:
            return None
        row = rows[max(rows)]
        checkpoint = Checkpoint(
            step=row.step,
            plan_index=row.plan_index,
            loop_counters=row.loop_counters,
            cycle=row.cycle,
            step_elapsed_s=0.0,
            step_charge_C=0.0,
            step_t_start=row.t_start,
            last_seq=0,
        )
    last_seq = max(store.last_seq(run_id), checkpoint.last_seq)
    last_sample = None
    if last_seq > checkpoint.last_seq:
        last_sample = _sample(store, run_id, last_seq)
    # the gap runs from the last committed checkpoint (unknown without one)
    gap = None if synthesized else ((now or utcnow()) - checkpoint.updated_at).total_seconds()
    return ResumePoint(
        checkpoint=checkpoint,
        step=rows.get(checkpoint.step),
        next_step=rows.get(checkpoint.step + 1),
        last_seq=last_seq,
        last_impedance_seq=max(_last_impedance_seq(store, run_id), checkpoint.last_impedance_seq),
        last_sample=last_sample,
        gap_s=None if gap is None else max(gap, 0.0),
    )


def _sample(store: Store, run_id: int, seq: int) -> LastSample | None:
    from cyclerctl.store import models

    table = models.samples
    query = select(table.c.t, table.c.Q, table.c.step).where(
        table.c.run_id == run_id, table.c.seq == seq
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    if row is None:
        return None
    t, charge, step = row  # not row.t: Row.t is SQLAlchemy's tuple accessor
    return LastSample(seq, float(t), float(charge), int(step))


def _last_impedance_seq(store: Store, run_id: int) -> int:
    from cyclerctl.store import models

    table = models.impedance
    query = select(func.max(table.c.seq)).where(table.c.run_id == run_id)
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one_or_none() or 0)
