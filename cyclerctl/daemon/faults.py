"""Drills: a simulated channel whose link is lost, to rehearse what a fault does to a run.

``options = { fault_after = "20 s" }`` on a ``sim`` instrument makes each of its channels
raise ``ConnectionError`` from ``read()`` once that much wall time has passed since the
run's first step started — the same thing a dropped USB/LAN link does to a real driver.
The run ends ``failed`` with the reason recorded; other instruments' runs go on.

``options = { stall_after = "20 s", stall_for = "10 min" }``: from then on every ``read()``
takes ``stall_for`` to return, as a driver call on a hung instrument does. The daemon's
watchdog raises an alarm (``[daemon] stall_alarm``); other instruments' runs go on.

``options = { drop_after = "20 s", drop_for = "30 s" }``: from then on, for that long, every
call raises :class:`~cyclerctl.drivers.base.InstrumentFault` with ``link_lost`` (the link is
down), then the link is back: a step that runs on board has gone on meanwhile and its
points are read on; a host-sequenced one was put at rest when the link came back, and goes
on from where it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from cyclerctl.drivers.base import (
    Capabilities,
    Channel,
    InstrumentFault,
    Samples,
    StepProgress,
)
from cyclerctl.plan import Step


class FaultyChannel:
    """Passes everything through until ``after_s`` wall seconds into the run."""

    def __init__(
        self,
        inner: Channel,
        after_s: float = math.inf,
        *,
        stall_after_s: float = math.inf,
        stall_for_s: float = 0.0,
        drop_after_s: float = math.inf,
        drop_for_s: float = 0.0,
    ) -> None:
        self._inner = inner
        self._drop_after_s = drop_after_s
        self._drop_for_s = drop_for_s
        self._after_s = after_s
        self._stall_after_s = stall_after_s
        self._stall_for_s = stall_for_s
        self._began: float | None = None

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        if self._began is None:
            self._began = time.monotonic()
        self._link("start_step")
        self._inner.start_step(step, progress)

    def _link(self, command: str) -> None:
        """Raise as a dropped link does, inside the drop_after/drop_for window."""
        into = 0.0 if self._began is None else time.monotonic() - self._began
        if self._drop_after_s <= into < self._drop_after_s + self._drop_for_s:
            raise InstrumentFault(
                self._inner.name,
                command,
                f"link down (drill: drop_after = {self._drop_after_s:g} s, "
                f"drop_for = {self._drop_for_s:g} s)",
                link_lost=True,
            )

    def read(self) -> Samples:
        self._link("read")
        into = 0.0 if self._began is None else time.monotonic() - self._began
        if into >= self._stall_after_s:
            time.sleep(self._stall_for_s)
        if self._began is not None and into >= self._after_s:
            raise ConnectionError(
                f"link to {self._inner.name} lost (drill: fault_after = {self._after_s:g} s)"
            )
        return self._inner.read()

    def stop(self) -> None:
        self._link("stop")
        self._inner.stop()


def with_faults(channel: Channel, options: Mapping[str, Any]) -> Channel:
    """``channel``, made to fail as the instrument's options ask (unchanged if they don't)."""
    if not {"fault_after", "stall_after", "drop_after"} & set(options):
        return channel
    return FaultyChannel(
        channel,
        _seconds(options.get("fault_after"), math.inf),
        stall_after_s=_seconds(options.get("stall_after"), math.inf),
        stall_for_s=_seconds(options.get("stall_for"), 3600.0),
        drop_after_s=_seconds(options.get("drop_after"), math.inf),
        drop_for_s=_seconds(options.get("drop_for"), 30.0),
    )


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, str):
        from cyclerctl.protocol import parse_quantity

        return parse_quantity(value, "time")
    return float(value)
