"""Re-attaching to a step an instrument kept running on board while no daemon watched.

Instruments that run a whole step on board (a cycler's step file, a BioLogic technique)
go on measuring when the host PC crashes or the daemon is stopped, and buffer the points.
A driver that can find its step still running and hand over the buffered points
implements :class:`Reattachable`; the engine tries it before restarting a resumed step.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cyclerctl.drivers.base import StepProgress
from cyclerctl.plan import Step


@runtime_checkable
class Reattachable(Protocol):
    def reattach(self, step: Step, progress: StepProgress) -> bool:
        """Continue reading ``step`` if the channel is still running it on board.

        ``progress`` is where the stored data ends (step elapsed time and charge). True:
        the step is still (or was until it ended on board) running, and :meth:`read` will
        return the points measured after ``progress.elapsed_s`` — the buffered ones first —
        and the step's end as usual. False: it is not running; the engine restarts the
        step from ``progress`` with ``start_step``.
        """
        ...
