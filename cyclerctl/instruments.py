"""Opening instruments by driver name: the one place that knows the concrete drivers.

The engine only sees the ``Channel``/``Instrument`` interfaces; drivers are imported here,
lazily, so a missing optional dependency of one driver never breaks the others.
"""

from __future__ import annotations

from cyclerctl.drivers.base import Instrument
from cyclerctl.plan import CellSummary

DRIVERS = ("sim",)


def open_simulator(
    cells: list[CellSummary],
    *,
    seed: int | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    name: str = "sim",
) -> Instrument:
    from cyclerctl.drivers.sim import SimInstrument

    instrument = SimInstrument(cells, seed=seed, realtime=realtime, speed=speed, name=name)
    instrument.connect()
    return instrument
