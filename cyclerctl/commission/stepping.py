"""Running one step straight on a channel, below the engine: what commissioning needs to see
what the instrument itself does (which end conditions it fires on board, its clock).

A step ends when the channel says so; a condition the channel does not evaluate itself is
ended here, as the engine would, and the result says who ended it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cyclerctl.drivers.base import IMPEDANCE_DTYPE, SAMPLE_DTYPE, Channel
from cyclerctl.plan import Step

#: Seconds between two reads on a real-time channel.
POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class StepResult:
    points: npt.NDArray[np.void]  # SAMPLE_DTYPE
    impedance: npt.NDArray[np.void]  # IMPEDANCE_DTYPE
    ended_by_channel: bool
    end_reason: str | None
    wall_s: float  # wall-clock seconds from start_step to the read that saw the end

    @property
    def last_t(self) -> float:
        return float(self.points["t"][-1]) if len(self.points) else 0.0


class StepRunner:
    """Runs steps on one channel; ``speed``: the channel's clock runs ``speed`` × the wall
    clock (1 for real hardware; an emulator started with ``speed``)."""

    def __init__(
        self,
        channel: Channel,
        *,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channel = channel
        self.speed = speed
        self.virtual = channel.capabilities.virtual_time
        self._clock = clock
        self._sleep = sleep

    def run(self, step: Step, *, budget_s: float) -> StepResult:
        """Run ``step`` until the channel ends it, or until ``budget_s`` of step time: then
        a time condition the channel does not evaluate itself is applied here (``stop``)."""
        blocks: list[npt.NDArray[np.void]] = []
        spectra: list[npt.NDArray[np.void]] = []
        start = self._clock()
        self.channel.start_step(step)
        reason: str | None = None
        by_channel = False
        try:
            while True:
                samples = self.channel.read()
                if len(samples.points):
                    blocks.append(samples.points)
                if samples.impedance is not None and len(samples.impedance):
                    spectra.append(samples.impedance)
                if samples.ended:
                    by_channel, reason = True, samples.end_reason
                    break
                t = float(blocks[-1]["t"][-1]) if blocks else 0.0
                waited = (self._clock() - start) * self.speed
                if t >= budget_s or (not self.virtual and waited >= budget_s + 2.0):
                    self.channel.stop()
                    reason = "budget"
                    break
                if not self.virtual:
                    self._sleep(POLL_S)
        except BaseException:
            self.channel.stop()
            raise
        wall = self._clock() - start
        return StepResult(
            points=np.concatenate(blocks) if blocks else np.empty(0, dtype=SAMPLE_DTYPE),
            impedance=np.concatenate(spectra) if spectra else np.empty(0, dtype=IMPEDANCE_DTYPE),
            ended_by_channel=by_channel,
            end_reason=reason,
            wall_s=wall,
        )
