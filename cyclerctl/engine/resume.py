"""Where an interrupted run picks up again, read from the database (never from memory).

The checkpoint names the step (plan index + loop counters), its elapsed time and charge,
and the last sample it covers. Samples may have been committed after the checkpoint (the
writer commits in batches, the checkpoint rides on them but a batch can close between a
block and its checkpoint): the highest stored sample is then the better place to resume
from, so a resumed step continues after the last stored point rather than overlapping it.
Sequence numbers always continue after the highest stored one: no duplicate, no hole.

The running step's row carries its tallies (charge, discharge, energy) as of the checkpoint
that came with it; points stored after it are added to them here (``_caught_up``), so a
resumed step counts each point once, not the ones between the checkpoint and the last
stored point zero times.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import numpy as np
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
    step, next_step = rows.get(checkpoint.step), rows.get(checkpoint.step + 1)
    if last_sample is not None:
        if step is not None and step.step == last_sample.step:
            step = _caught_up(store, run_id, step, checkpoint, last_seq)
        elif next_step is not None and next_step.step == last_sample.step:
            next_step = _caught_up(store, run_id, next_step, None, last_seq)
    return ResumePoint(
        checkpoint=checkpoint,
        step=step,
        next_step=next_step,
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


C_PER_AH = 3600.0
J_PER_WH = 3600.0


def _caught_up(
    store: Store, run_id: int, row: StepRecord, checkpoint: Checkpoint | None, last_seq: int
) -> StepRecord:
    """``row`` (a step still running) with the points stored after its tallies added.

    The row's tallies cover its points up to ``row.last_seq`` and, when the checkpoint was
    written with it, up to the checkpoint's charge; each later stored point of the step
    adds its charge step (to charge when positive, discharge when negative) and energy.
    """
    if row.end_reason is not None:
        return row
    from cyclerctl.store import models

    table = models.samples
    covered = row.last_seq or 0
    query = (
        select(table.c.seq, table.c.V, table.c.Q)
        .where(
            table.c.run_id == run_id,
            table.c.step == row.step,
            table.c.seq >= covered,
            table.c.seq <= last_seq,
        )
        .order_by(table.c.seq)
    )
    with store.engine.connect() as connection:
        found = connection.execute(query).all()
    if not found:
        return row
    seq = np.array([r[0] for r in found], dtype=np.int64)
    V = np.array([r[1] for r in found], dtype=np.float64)
    Q = np.array([r[2] for r in found], dtype=np.float64)
    if seq[0] == covered:  # the row's own last point: where its tallies end
        base_V, base_Q = float(V[0]), float(Q[0])
        seq, V, Q = seq[1:], V[1:], Q[1:]
    else:  # nothing of the step stored with the row yet
        base_V, base_Q = (float(V[0]), 0.0) if len(V) else (0.0, 0.0)
    if len(seq) == 0:
        return row
    if checkpoint is not None and checkpoint.step == row.step and checkpoint.last_seq == covered:
        base_Q = checkpoint.step_charge_C  # the row's charge ends where its checkpoint does
    dQ = np.diff(Q, prepend=base_Q)
    dE = 0.5 * (V + np.concatenate(([base_V], V[:-1]))) * dQ
    up = dQ > 0
    return dataclasses.replace(
        row,
        charge_Ah=row.charge_Ah + float(dQ[up].sum()) / C_PER_AH,
        discharge_Ah=row.discharge_Ah - float(dQ[~up].sum()) / C_PER_AH,
        charge_Wh=abs(row.charge_Wh * J_PER_WH + float(dE[up].sum())) / J_PER_WH,
        discharge_Wh=abs(row.discharge_Wh * J_PER_WH - float(dE[~up].sum())) / J_PER_WH,
        first_seq=row.first_seq if row.first_seq is not None else int(seq[0]),
        last_seq=int(seq[-1]),
    )
