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
        step from ``progress`` with ``start_step`` (a driver that found the step stopped on
        board may hand over the points measured after ``progress`` first, and start the
        step again where they end).

        The database may be behind the instrument: a daemon that died within a commit
        interval of a step's end leaves that step running in the store while the
        instrument has ended it (and maybe begun the next steps). A driver that can tell
        returns True with the step's remaining points and end, and takes over the next
        steps' runs on board when ``start_step`` asks for them from their start.
        """
        ...
