"""Every driver by name: how to open it, emulate it and probe it.

Entries name their modules as strings and are imported only when used, so a missing
optional dependency of one driver (pyvisa, pyserial) never breaks the others, and the
engine never imports a concrete driver.

A driver module ``M`` named here provides:

- ``M.open_instrument(address: str, options: Mapping[str, Any]) -> Instrument`` (connected);
- ``M.start_emulator(cells: Sequence[CellSummary], host: str, port: int,
  options: Mapping[str, Any]) -> Emulator`` — a wire-level emulator running the simulator's
  cell physics, serving until ``close()``; ``port`` 0 picks a free one;
- optionally ``M.open_chamber(address, options) -> Chamber`` for chamber drivers;
- optionally ``M.UNCONFIRMED`` (what stays unconfirmed without real hardware) or
  ``M.probe_lines(instrument)``, which ``cyclerctl probe`` prints.

Common options: ``virtual_time`` (bool: the emulator's cells advance when the driver asks
for data, as fast as the machine allows; otherwise real time × ``speed``), ``speed``,
``seed``, ``timeout_s``, ``voltage_limit_V`` (the largest |V| the protocol's safety window
allows: a source's compliance is set no wider), ``emulated_cells`` (with the address
``emulated``: start an emulator in-process for a dry run).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cyclerctl.plan import CellSummary

from .base import Chamber, Instrument


class Emulator(Protocol):
    """A running emulator: where to reach it and how to stop it."""

    @property
    def address(self) -> str:
        """The address a driver (or a plain pyvisa/pyserial client) connects to."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DriverEntry:
    name: str
    module: str  # under cyclerctl.drivers
    summary: str
    kind: str = "instrument"  # or "chamber"

    def _module(self) -> Any:
        return importlib.import_module(f"cyclerctl.drivers.{self.module}")

    def open_instrument(self, address: str, options: Mapping[str, Any]) -> Instrument:
        instrument: Instrument = self._module().open_instrument(address, options)
        return instrument

    def open_chamber(self, address: str, options: Mapping[str, Any]) -> Chamber:
        chamber: Chamber = self._module().open_chamber(address, options)
        return chamber

    def probe_lines(self, instrument: Instrument) -> list[str]:
        """What ``probe`` prints after the channels: the module's ``probe_lines(instrument)``
        when it has one, else each entry of its ``UNCONFIRMED`` tuple marked "unconfirmed"."""
        module = self._module()
        lines = getattr(module, "probe_lines", None)
        if lines is not None:
            return [str(line) for line in lines(instrument)]
        return [f"unconfirmed: {item}" for item in getattr(module, "UNCONFIRMED", ())]

    def start_emulator(
        self, cells: Sequence[CellSummary], host: str, port: int, options: Mapping[str, Any]
    ) -> Emulator:
        emulator: Emulator = self._module().start_emulator(cells, host, port, options)
        return emulator


DRIVERS: dict[str, DriverEntry] = {
    entry.name: entry
    for entry in (
        DriverEntry("biologic", "biologic", "BioLogic VMP-3/VSP/SP-150/BCS through EClib"),
        DriverEntry("neware", "neware", "Neware BTS multichannel cyclers, BTS API over TCP"),
        DriverEntry("scpi", "scpi", "Keithley 2400/2450-class SourceMeter over VISA (SCPI)"),
        DriverEntry("chamber", "chamber", "temperature chamber over a serial line", "chamber"),
    )
}


def driver(name: str) -> DriverEntry:
    try:
        return DRIVERS[name]
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise ValueError(f"unknown driver {name!r}; the drivers are: {known}, sim") from None
