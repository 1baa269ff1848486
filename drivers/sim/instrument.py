"""The simulated cycler: one channel per cell, each with its own model and noise stream,
and optionally a simulated temperature chamber the cells sit in."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cyclerctl import __version__
from cyclerctl.plan import CellSummary

from ..base import Identity
from .chamber import SimChamber, chamber_from_settings
from .channel import SimChannel
from .models import build_cell_model
from .sim_table import without_instrument_keys
from .spectrum import DEFAULT_EIS_NOISE
from .units import sim_value


class SimInstrument:
    """A cycler whose channels hold simulated cells (``cells[i]`` on channel ``name:i+1``).

    ``seed`` overrides every cell's own ``[sim] seed``; either way channel i draws its noise
    from ``default_rng([seed, i])``, so the same seed gives the same points, and two
    channels with the same cell file still show different noise.

    ``native_end_conditions`` limits the conditions the channels end steps on themselves,
    so the simulator can stand in for a host-sequenced instrument (an SMU): the engine then
    evaluates the rest on the streamed samples. By default the channels end on all of them.

    ``chamber``: a mapping of chamber settings as a cell file writes them (``ambient``,
    ``time_constant``, ``oscillation``, ``oscillation_period``, ``noise``, ``seed``; see
    ``chamber.chamber_from_settings``); True for the cells' ``[sim.chamber]`` table, or the
    defaults when no cell has one; False for none; None (the default) for the cells'
    table when one has it, else none. The chamber is :attr:`chamber`. Limitation: one
    chamber serves all the channels and follows channel 1's virtual clock, so the others
    read it correctly only while they run in step with channel 1 (the same protocol).

    Each cell's ``[sim] eis_noise`` (relative noise on measured impedance, default 0.2 %)
    is read here, not by the cell model.
    """

    def __init__(
        self,
        cells: Sequence[CellSummary],
        *,
        seed: int | None = None,
        sample_interval_s: float = 1.0,
        realtime: bool = False,
        speed: float = 1.0,
        name: str = "sim",
        native_end_conditions: frozenset[str] | None = None,
        chamber: Mapping[str, Any] | bool | None = None,
    ) -> None:
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a whole number ≥ 0, not {seed}")
        self._channels: tuple[SimChannel, ...] = ()
        self._chamber = self._build_chamber(cells, chamber, name)
        channels = []
        for index, cell in enumerate(cells):
            model = build_cell_model(without_instrument_keys(cell))
            base_seed = model.seed if seed is None else seed
            channels.append(
                SimChannel(
                    model,
                    name=f"{name}:{index + 1}",
                    rng=np.random.default_rng([base_seed, index]),
                    sample_interval_s=sample_interval_s,
                    realtime=realtime,
                    speed=speed,
                    native_end_conditions=native_end_conditions,
                    chamber=self._chamber,
                    eis_noise=sim_value(cell.sim, "eis_noise", DEFAULT_EIS_NOISE, ""),
                    model_name=str(cell.sim.get("model")),
                )
            )
        self._channels = tuple(channels)
        self._identity = Identity(
            driver="sim",
            vendor="cyclerctl",
            model="simulated cycler",
            serial=f"SIM-{zlib.crc32(name.encode()):08X}",
            firmware=__version__,
        )
        self.connected = False

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def channels(self) -> tuple[SimChannel, ...]:
        return self._channels

    @property
    def chamber(self) -> SimChamber | None:
        return self._chamber

    def _clock_s(self) -> float:
        """The chamber's clock: channel 1's virtual time."""
        return self._channels[0].clock_s if self._channels else 0.0

    def _build_chamber(
        self, cells: Sequence[CellSummary], chamber: Mapping[str, Any] | bool | None, name: str
    ) -> SimChamber | None:
        if chamber is False:
            return None
        settings: Mapping[str, Any] | None = None
        if isinstance(chamber, Mapping):
            settings = chamber
        else:
            tables = [cell.sim["chamber"] for cell in cells if "chamber" in cell.sim]
            for table in tables:
                if not isinstance(table, Mapping):
                    raise ValueError(f"[sim] chamber = {table!r}: expected a [sim.chamber] table")
            if tables:
                settings = tables[0]
            elif chamber is True:
                settings = {}
        if settings is None:
            return None
        return chamber_from_settings(settings, clock=self._clock_s, name=f"{name}-chamber")

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        """Leave every cell at open circuit, as a real cycler does when released."""
        for channel in self._channels:
            channel.stop()
        self.connected = False
