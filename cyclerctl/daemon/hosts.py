"""Instruments as the daemon holds them: one connection, one lock, many channels.

Every call into an instrument's driver goes through its :class:`InstrumentHost`'s lock, so
a connection is never used from two threads at once (DESIGN.md, "Drivers"), while the
channels of *different* instruments never wait on each other: a slow or dead instrument
stalls only the runs on its own channels.

Real instruments (biologic, neware, scpi) are opened through the driver registry on first
use and kept open. The simulator gets a fresh simulated instrument per run, holding the
cell the config names for the channel (``cells = [...]``), or the run's own cell when the
config names none; a cell whose model the simulator does not know fails that run only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cyclerctl.config import ChamberConfig, InstrumentConfig
from cyclerctl.drivers.base import (
    Capabilities,
    Chamber,
    ChamberReading,
    Channel,
    Identity,
    Instrument,
    Samples,
    StepProgress,
)
from cyclerctl.engine.reattach import Reattachable
from cyclerctl.plan import Plan, Step


class LockedChannel:
    """A channel whose every driver call holds its instrument's lock; named as configured."""

    def __init__(self, inner: Channel, lock: threading.RLock, name: str) -> None:
        self._inner = inner
        self._lock = lock
        self._name = name
        with lock:
            self._capabilities = inner.capabilities

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        with self._lock:
            self._inner.start_step(step, progress)

    def read(self) -> Samples:
        with self._lock:
            return self._inner.read()

    def stop(self) -> None:
        with self._lock:
            self._inner.stop()

    def reattach(self, step: Step, progress: StepProgress) -> bool:
        if not isinstance(self._inner, Reattachable):
            return False
        with self._lock:
            return self._inner.reattach(step, progress)


class LockedChamber:
    """A chamber shared by several channels' runs, one call at a time."""

    def __init__(self, inner: Chamber, lock: threading.RLock) -> None:
        self._inner = inner
        self._lock = lock

    @property
    def identity(self) -> Identity:
        return self._inner.identity

    def set_temperature(self, setpoint_K: float) -> None:
        with self._lock:
            self._inner.set_temperature(setpoint_K)

    def read(self) -> ChamberReading:
        with self._lock:
            return self._inner.read()

    def close(self) -> None:
        with self._lock:
            self._inner.close()


@dataclass(frozen=True, slots=True)
class OpenedChannel:
    """What a run drives: its channel, the chamber its cell sits in, the instrument's identity."""

    channel: Channel
    chamber: Chamber | None
    identity: Mapping[str, str]


class ChamberHost:
    """One configured temperature chamber, opened on first use, shared under a lock."""

    def __init__(self, config: ChamberConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._chamber: LockedChamber | None = None

    def open(self) -> Chamber:
        with self._lock:
            if self._chamber is None:
                from cyclerctl.drivers.registry import driver

                opened = driver(self.config.driver).open_chamber(
                    self.config.address, dict(self.config.options)
                )
                self._chamber = LockedChamber(opened, self._lock)
            return self._chamber

    def close(self, timeout: float = 5.0) -> bool:
        if not self._lock.acquire(timeout=timeout):
            return False  # busy in a call that does not return: leave it
        try:
            chamber, self._chamber = self._chamber, None
            if chamber is not None:
                with contextlib.suppress(Exception):
                    chamber.close()
        finally:
            self._lock.release()
        return True


class InstrumentHost:
    """One configured instrument: its connection (or simulators), its lock, its channels."""

    def __init__(self, config: InstrumentConfig, chamber: ChamberHost | None = None) -> None:
        self.config = config
        self.chamber = chamber
        self.lock = threading.RLock()  # the connection's one lock
        self._instrument: Instrument | None = None
        self._sims: dict[int, Instrument] = {}  # sim: the simulated instrument of each run

    @property
    def name(self) -> str:
        return self.config.name

    def open_channel(self, number: int, plan: Plan) -> OpenedChannel:
        """The channel ``number`` ready for ``plan``; raises whatever the driver raises."""
        if self.config.driver == "sim":
            return self._open_sim(number, plan)
        with self.lock:
            if self._instrument is None:
                from cyclerctl.drivers.registry import driver

                options: dict[str, Any] = dict(self.config.options)
                self._instrument = driver(self.config.driver).open_instrument(
                    self.config.address or "", options
                )
            instrument = self._instrument
            channels = instrument.channels
            if not 1 <= number <= len(channels):
                raise ValueError(
                    f"{self.name} has {len(channels)} channel(s); there is no channel {number}"
                )
            inner = channels[number - 1]
            identity = instrument.identity.as_dict()
        chamber = self.chamber.open() if self.chamber is not None else None
        channel = LockedChannel(inner, self.lock, f"{self.name}:{number}")
        return OpenedChannel(channel, chamber, identity)

    def _open_sim(self, number: int, plan: Plan) -> OpenedChannel:
        from cyclerctl.daemon.faults import with_faults
        from cyclerctl.drivers.sim import SimInstrument
        from cyclerctl.instruments import needs_chamber
        from cyclerctl.protocol import load_cell

        spec = self.config.cell_for(number)
        cell = plan.cell if spec is None else load_cell(spec)
        options = dict(self.config.options)
        native = options.get("native_end_conditions")  # a host-sequenced stand-in (an SMU)
        instrument = SimInstrument(
            [cell],
            seed=options.get("seed"),
            sample_interval_s=float(options.get("sample_interval", 1.0)),
            realtime=self.config.realtime,
            speed=self.config.speed,
            name=self.name,
            native_end_conditions=None if native is None else frozenset(native),
            chamber=needs_chamber(plan) or None,
        )
        instrument.connect()
        with self.lock:
            previous = self._sims.pop(number, None)
            self._sims[number] = instrument
        if previous is not None:
            with contextlib.suppress(Exception):
                previous.close()
        inner = with_faults(instrument.channels[0], options)
        # each run's simulator is a connection of its own: its own lock
        channel = LockedChannel(inner, threading.RLock(), f"{self.name}:{number}")
        return OpenedChannel(channel, instrument.chamber, instrument.identity.as_dict())

    def close(self, timeout: float = 5.0) -> bool:
        """Release the connection. Drivers leave channels that run on board running.

        False when the connection is still busy after ``timeout`` (a driver call on a hung
        instrument): it is left as it is rather than waited for forever.
        """
        if not self.lock.acquire(timeout=timeout):
            return False
        try:
            instrument, self._instrument = self._instrument, None
            sims, self._sims = list(self._sims.values()), {}
            for each in [instrument, *sims]:
                if each is not None:
                    with contextlib.suppress(Exception):
                        each.close()
        finally:
            self.lock.release()
        return True
