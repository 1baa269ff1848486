"""How a step ends, and whether its end ends the run."""

from __future__ import annotations

from dataclasses import dataclass

#: RunOutcome.status of a run left for the next daemon: not a status the database records
DETACHED = "detached"


@dataclass(slots=True)
class StepEnd:
    reason: str
    run_status: str | None = None  # set when the step's end also ends the run

    @classmethod
    def detached(cls) -> StepEnd:
        """The step is left as it is for the next daemon (its progress checkpointed)."""
        return cls("detached", run_status=DETACHED)

    @classmethod
    def stopped(cls) -> StepEnd:
        """The operator stopped the run."""
        return cls("operator", run_status="stopped")
