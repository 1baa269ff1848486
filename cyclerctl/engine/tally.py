"""What a step moved: its charge and energy each way, from every measured point (not only
the stored ones), and the step's row as the store keeps it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclerctl.drivers.base import StepProgress
from cyclerctl.engine.program import Position
from cyclerctl.store import StepRecord

C_PER_AH = 3600.0
J_PER_WH = 3600.0


@dataclass(slots=True)
class StepTally:
    """What a step moved, from the raw (not only the stored) points."""

    charge_C: float = 0.0  # charge passed with I > 0
    discharge_C: float = 0.0  # charge passed with I < 0, as a positive number
    charge_J: float = 0.0
    discharge_J: float = 0.0
    last_Q: float = 0.0
    last_V: float | None = None
    elapsed_s: float = 0.0
    first_seq: int | None = None
    last_seq: int | None = None

    @classmethod
    def carried_on(cls, elapsed_s: float, charge_C: float, row: StepRecord | None) -> StepTally:
        """A step entered part-way: its time and charge so far, and its stored row's tallies."""
        tally = cls(elapsed_s=elapsed_s, last_Q=charge_C)
        if row is not None:
            tally.charge_C = row.charge_Ah * C_PER_AH
            tally.discharge_C = row.discharge_Ah * C_PER_AH
            tally.charge_J = row.charge_Wh * J_PER_WH
            tally.discharge_J = row.discharge_Wh * J_PER_WH
            tally.first_seq, tally.last_seq = row.first_seq, row.last_seq
        return tally

    def add(self, block: np.ndarray) -> None:
        Q = block["Q"]
        V = block["V"]
        dQ = np.diff(Q, prepend=self.last_Q)
        V_prev = np.concatenate(([self.last_V if self.last_V is not None else V[0]], V[:-1]))
        dE = 0.5 * (V + V_prev) * dQ
        up = dQ > 0
        self.charge_C += float(dQ[up].sum())
        self.discharge_C -= float(dQ[~up].sum())
        self.charge_J += float(dE[up].sum())
        self.discharge_J -= float(dE[~up].sum())
        self.last_Q = float(Q[-1])
        self.last_V = float(V[-1])
        self.elapsed_s = float(block["t"][-1])

    def progress(self) -> StepProgress:
        """Where the step is: a restarted step picks up its elapsed time and charge here."""
        return StepProgress(self.elapsed_s, self.last_Q)


def step_record(
    position: Position, t_start: float, tally: StepTally, reason: str | None
) -> StepRecord:
    """The step's row: still running (``reason`` None) or ended."""
    step = position.step
    return StepRecord(
        step=position.ordinal,
        plan_index=step.index,
        name=step.name,
        kind=step.kind,
        cycle=position.cycle,
        loop_counters=list(position.counters),
        t_start=t_start,
        t_end=None if reason is None else t_start + tally.elapsed_s,
        end_reason=reason,
        charge_Ah=tally.charge_C / C_PER_AH,
        discharge_Ah=tally.discharge_C / C_PER_AH,
        # |∫V dQ|: with a symmetric or Li‖Cu cell V changes sign, and energy is a magnitude
        charge_Wh=abs(tally.charge_J) / J_PER_WH,
        discharge_Wh=abs(tally.discharge_J) / J_PER_WH,
        first_seq=tally.first_seq,
        last_seq=tally.last_seq,
    )
