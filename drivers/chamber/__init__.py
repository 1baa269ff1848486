"""Temperature chambers with an ESPEC controller over a serial line (registry name ``chamber``).

``open_chamber(address, options)``: ``address`` is the serial device; options ``baudrate``
(9600), ``timeout_s`` (1.0 s per reply), ``unit`` (RS-485 unit number; none on RS-232).

``start_emulator(cells, host, port, options)``: the controller on a pseudo-terminal
(``host``/``port`` are not used; the emulator's ``address`` is the tty path). Options:
``sim_chamber`` (a :class:`SimChamber` to wrap, e.g. ``SimInstrument.chamber``, sharing its
virtual clock), else a chamber built from the first cell's ``[sim.chamber]`` table, then
``chamber`` (a mapping of the same keys), then those keys given directly in the options
(``time_constant``, ``ambient``, ``oscillation``, ``oscillation_period``, ``noise``,
``seed``); it runs on the wall clock × ``speed``. ``unit`` as above.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from cyclerctl.plan import CellSummary

from ..sim.chamber import CHAMBER_KEYS, SimChamber, chamber_from_settings
from .driver import ChamberError, ChamberRefused, ChamberTimeout, SerialChamber
from .emulator import ChamberEmulator

__all__ = [
    "ChamberEmulator",
    "ChamberError",
    "ChamberRefused",
    "ChamberTimeout",
    "SerialChamber",
    "open_chamber",
    "start_emulator",
]


def open_chamber(address: str, options: Mapping[str, Any]) -> SerialChamber:
    return SerialChamber(
        address,
        baudrate=int(options.get("baudrate", 9600)),
        timeout=float(options.get("timeout_s", 1.0)),
        unit=_unit(options),
    )


def start_emulator(
    cells: Sequence[CellSummary], host: str, port: int, options: Mapping[str, Any]
) -> ChamberEmulator:
    del host, port  # a serial line has neither
    chamber = options.get("sim_chamber")
    if chamber is None:
        chamber = _wall_clock_chamber(cells, options)
    elif not isinstance(chamber, SimChamber):
        raise TypeError(f"option sim_chamber must be a SimChamber, not {type(chamber).__name__}")
    return ChamberEmulator(chamber, unit=_unit(options))


def _wall_clock_chamber(cells: Sequence[CellSummary], options: Mapping[str, Any]) -> SimChamber:
    settings: dict[str, Any] = {}
    tables = [cell.sim["chamber"] for cell in cells if "chamber" in cell.sim]
    for table in [*tables[:1], options.get("chamber") or {}]:
        if not isinstance(table, Mapping):
            raise ValueError(f"chamber settings {table!r}: expected a table")
        settings.update(table)
    settings.update({k: options[k] for k in (*CHAMBER_KEYS, "seed") if k in options})
    speed = float(options.get("speed", 1.0))
    if not speed > 0:
        raise ValueError(f"speed must be > 0, not {speed!r}")
    start = time.monotonic()

    def clock() -> float:
        return (time.monotonic() - start) * speed

    return chamber_from_settings(settings, clock=clock, name="chamber-emulator")


def _unit(options: Mapping[str, Any]) -> int | None:
    unit = options.get("unit")
    if unit is None:
        return None
    if isinstance(unit, bool) or not isinstance(unit, int):
        raise ValueError(f"option unit must be a whole number (RS-485 unit), not {unit!r}")
    return unit
