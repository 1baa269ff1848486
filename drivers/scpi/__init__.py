"""Keithley Series 2400 SourceMeter over VISA (SCPI): driver and wire-level emulator.

- :func:`open_instrument` — a connected :class:`~.driver.SourceMeterInstrument` at a VISA
  address (pyvisa-py backend); the address ``emulated`` starts an in-process emulator of
  ``options["emulated_cells"]`` (a dummy load is a cell too: the simulator's ``dummy``
  model) and connects to it through real VISA bytes on 127.0.0.1.
- :func:`start_emulator` — a :class:`~.emulator.ScpiEmulator` serving one simulated cell;
  its ``address`` is ``TCPIP::127.0.0.1::<port>::SOCKET``.

Dialect: Series 2400 SCPI (2400S-900-01 Rev. K; a 2450 after ``*LANG SCPI2400``).
Not run against a real SourceMeter: what stays unconfirmed is ``driver.UNCONFIRMED``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cyclerctl.plan import CellSummary

if TYPE_CHECKING:
    from .driver import SourceMeterInstrument
    from .emulator import ScpiEmulator

EMULATED_ADDRESS = "emulated"


def open_instrument(address: str, options: Mapping[str, Any]) -> SourceMeterInstrument:
    """The SourceMeter at ``address``, connected. ``options`` as for
    :class:`~.driver.SourceMeterInstrument`, plus ``timeout_s`` (default 5)."""
    from .driver import SourceMeterInstrument

    emulator = None
    if address == EMULATED_ADDRESS:
        cells = options.get("emulated_cells")
        if not cells:
            raise ValueError("address 'emulated' needs options['emulated_cells']")
        emulator = start_emulator(cells, "127.0.0.1", 0, options)
        address = emulator.address
    instrument = SourceMeterInstrument(
        address, timeout_ms=int(float(options.get("timeout_s", 5.0)) * 1000), options=options
    )
    if emulator is not None:
        instrument.owned.append(emulator)
    try:
        instrument.connect()
    except BaseException:
        instrument.close()
        raise
    return instrument


def start_emulator(
    cells: Sequence[CellSummary], host: str, port: int, options: Mapping[str, Any]
) -> ScpiEmulator:
    """A Series 2400 emulator on ``host:port`` (0: a free port) with ``cells[0]`` on it (a
    dummy load is a cell of the simulator's ``dummy`` model); ``options["miscale"]`` breaks
    it on purpose (see :class:`~.emulator.ScpiEmulator`)."""
    from .emulator import ScpiEmulator

    return ScpiEmulator(cells, host, port, options)


def probe_lines(instrument: SourceMeterInstrument) -> list[str]:
    """What ``cyclerctl probe`` prints after the channels: what stays unconfirmed."""
    from .driver import UNCONFIRMED

    return [f"unconfirmed: {item}" for item in UNCONFIRMED]


__all__ = ["EMULATED_ADDRESS", "open_instrument", "probe_lines", "start_emulator"]
