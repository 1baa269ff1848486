"""Opening instruments by driver name: the one place that knows the concrete drivers.

The engine only sees the ``Channel``/``Instrument`` interfaces; drivers are imported here,
lazily, so a missing optional dependency of one driver never breaks the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from cyclerctl.drivers.base import Chamber, Instrument
from cyclerctl.plan import CellSummary, Plan

DRIVERS = ("sim",)


@dataclass(frozen=True, slots=True)
class Setup:
    """What a run drives: an instrument, and the chamber its cells sit in (if any)."""

    instrument: Instrument
    chamber: Chamber | None = None

    def close(self) -> None:
        if self.chamber is not None:
            self.chamber.close()
        self.instrument.close()


def needs_chamber(plan: Plan) -> bool:
    return any(step.kind == "chamber" for step in plan.steps)


def open_simulator(
    cells: list[CellSummary],
    *,
    seed: int | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    name: str = "sim",
    chamber: bool = False,
) -> Setup:
    """The simulated instrument; with ``chamber`` a simulated chamber shares its clock
    (its parameters from the cell file's ``[sim.chamber]`` table when there is one)."""
    from cyclerctl.drivers.sim import SimInstrument

    instrument = SimInstrument(
        cells, seed=seed, realtime=realtime, speed=speed, name=name, chamber=chamber or None
    )
    instrument.connect()
    return Setup(instrument, instrument.chamber)
