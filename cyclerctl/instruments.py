"""Opening instruments by driver name: the one place that knows the concrete drivers.

The engine only sees the ``Channel``/``Instrument`` interfaces; drivers are imported here,
lazily, so a missing optional dependency of one driver never breaks the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cyclerctl.drivers.base import Chamber, Channel, Instrument
from cyclerctl.plan import CellSummary, Plan


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


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach the hardware for one run (what `cyclerctl run` takes on its command line)."""

    driver: str = "sim"
    address: str | None = None
    channel: int = 1  # 1-based, as instruments label them
    virtual_time: bool = False  # an emulator that advances when asked for data
    chamber_address: str | None = None
    chamber_driver: str = "chamber"


def open_setup(
    plan: Plan,
    connection: Connection,
    *,
    seed: int | None = None,
    realtime: bool = False,
    speed: float = 1.0,
) -> tuple[Setup, Channel]:
    """Open what the run needs and pick its channel; raises ValueError on a bad choice."""
    options: dict[str, Any] = {}
    window = [abs(lim.value) for lim in plan.safety if lim.quantity.startswith("voltage")]
    if window:
        # a source's own compliance: never more than the protocol's voltage window
        options["voltage_limit_V"] = max(window)
    return open_channel(
        connection,
        plan.cell,
        options,
        seed=seed,
        realtime=realtime,
        speed=speed,
        chamber=needs_chamber(plan),
    )


def open_channel(
    connection: Connection,
    cell: CellSummary,
    options: Mapping[str, Any],
    *,
    seed: int | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    chamber: bool = False,
) -> tuple[Setup, Channel]:
    """The instrument of ``connection`` and its channel; ``cell`` is what a simulator or an
    in-process emulator (address ``emulated``) holds, ``options`` go to the driver."""
    if connection.driver == "sim":
        setup = open_simulator([cell], seed=seed, realtime=realtime, speed=speed, chamber=chamber)
    else:
        from cyclerctl.drivers.registry import driver

        if not connection.address:
            raise ValueError(f"--address: the {connection.driver} driver needs an address")
        opened: dict[str, Any] = {"virtual_time": connection.virtual_time, "seed": seed, **options}
        if connection.address == "emulated":
            opened["emulated_cells"] = [cell]
        try:
            instrument = driver(connection.driver).open_instrument(connection.address, opened)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise ConnectionError(f"{connection.driver} at {connection.address}: {exc}") from exc
        setup = Setup(instrument)
    if connection.chamber_address:
        from cyclerctl.drivers.registry import driver

        chamber_ = driver(connection.chamber_driver).open_chamber(connection.chamber_address, {})
        setup = Setup(setup.instrument, chamber_)
    channels = setup.instrument.channels
    if not 1 <= connection.channel <= len(channels):
        setup.close()
        raise ValueError(
            f"--channel: {connection.channel} is not a channel of this instrument "
            f"(it has {len(channels)})"
        )
    return setup, channels[connection.channel - 1]
