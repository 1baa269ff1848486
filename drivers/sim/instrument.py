"""The simulated cycler: one channel per cell, each with its own model and noise stream."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from cyclerctl import __version__
from cyclerctl.plan import CellSummary

from ..base import Identity
from .channel import SimChannel
from .models import build_cell_model


class SimInstrument:
    """A cycler whose channels hold simulated cells (``cells[i]`` on channel ``name:i+1``).

    ``seed`` overrides every cell's own ``[sim] seed``; either way channel i draws its noise
    from ``default_rng([seed, i])``, so the same seed gives the same points, and two
    channels with the same cell file still show different noise.

    ``native_end_conditions`` limits the conditions the channels end steps on themselves,
    so the simulator can stand in for a host-sequenced instrument (an SMU): the engine then
    evaluates the rest on the streamed samples. By default the channels end on all of them.
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
    ) -> None:
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a whole number ≥ 0, not {seed}")
        channels = []
        for index, cell in enumerate(cells):
            model = build_cell_model(cell)
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

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        """Leave every cell at open circuit, as a real cycler does when released."""
        for channel in self._channels:
            channel.stop()
        self.connected = False
