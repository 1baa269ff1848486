"""The small interfaces every driver meets (DESIGN.md, "Drivers").

Two kinds of hardware share them: instruments that run a whole step on board and end it
themselves, and instruments the host must sequence. ``Capabilities.native_end_conditions``
says which end conditions a channel evaluates itself; the engine evaluates the rest on the
streamed samples and calls :meth:`Channel.stop`.

Samples are numpy structured blocks (``SAMPLE_DTYPE``), SI units, time relative to the
start of the step (a resumed step continues its elapsed time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from cyclerctl.plan import Step

#: One measured point: step time (s), voltage (V), current (A, signed, + charges the
#: working electrode), charge passed in the step (C, signed), temperature (K, NaN unknown).
SAMPLE_DTYPE = np.dtype(
    [("t", "f8"), ("V", "f8"), ("I", "f8"), ("Q", "f8"), ("T", "f8")]
)

#: One impedance point: frequency (Hz), Z' and Z'' (Ω, Z'' negative for capacitive),
#: DC bias voltage (V) and temperature (K) while it was measured, step time (s).
IMPEDANCE_DTYPE = np.dtype(
    [("f", "f8"), ("Zre", "f8"), ("Zim", "f8"), ("V_dc", "f8"), ("T", "f8"), ("t", "f8")]
)


def empty_samples() -> np.ndarray:
    return np.empty(0, dtype=SAMPLE_DTYPE)


@dataclass(frozen=True, slots=True)
class Identity:
    driver: str
    vendor: str
    model: str
    serial: str
    firmware: str

    def as_dict(self) -> dict[str, str]:
        return {
            "driver": self.driver,
            "vendor": self.vendor,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
        }


@dataclass(frozen=True, slots=True)
class Capabilities:
    voltage_range_V: tuple[float, float]
    current_max_A: float
    step_kinds: frozenset[str]  # which Step.kind values it can execute
    native_end_conditions: frozenset[str]  # which EndCondition.kind values it ends on itself
    eis: bool = False
    frequency_range_Hz: tuple[float, float] | None = None
    virtual_time: bool = False  # True: read() advances a simulated clock, never sleep for it


@dataclass(frozen=True, slots=True)
class StepProgress:
    """Where a step is when it is (re)started: zero for a fresh step, counters on resume."""

    elapsed_s: float = 0.0
    charge_C: float = 0.0


@dataclass(slots=True)
class Samples:
    """What one :meth:`Channel.read` returns: the new points and the step's status."""

    points: np.ndarray = field(default_factory=empty_samples)
    ended: bool = False
    end_reason: str | None = None  # set when the channel ended the step itself
    impedance: np.ndarray | None = None  # new IMPEDANCE_DTYPE points, EIS steps only


@runtime_checkable
class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        """Begin executing a bound step (all values floats)."""
        ...

    def read(self) -> Samples:
        """New points since the last read, and whether the step has ended."""
        ...

    def stop(self) -> None:
        """End the current step now and leave the cell at rest (open circuit)."""
        ...


@dataclass(frozen=True, slots=True)
class ChamberReading:
    temperature_K: float  # measured (NaN when the sensor gives nothing)
    setpoint_K: float | None  # the set point in force, None when the controller is off


@runtime_checkable
class Chamber(Protocol):
    """A temperature chamber the cells sit in (ESPEC-, Binder-, Eurotherm-style controller).

    The engine sets it for ``chamber`` steps and judges stability on its readings; a
    simulated chamber follows the same virtual clock as the simulated channels.
    """

    @property
    def identity(self) -> Identity: ...

    def set_temperature(self, setpoint_K: float) -> None: ...

    def read(self) -> ChamberReading: ...

    def close(self) -> None: ...


@runtime_checkable
class Instrument(Protocol):
    @property
    def identity(self) -> Identity: ...

    @property
    def channels(self) -> tuple[Channel, ...]: ...

    def connect(self) -> None: ...

    def close(self) -> None: ...


class InstrumentFault(Exception):
    """An instrument did not do what a command asked: which instrument, which command, why.

    One type for every way a conversation with an instrument goes wrong (a refused command,
    a garbled or truncated reply, no reply, a link that is gone), so the engine can record
    "instrument X: command Y: detail" and decide what to do without knowing the driver.

    ``link_lost``: the instrument is out of reach or out of step (a closed socket, a port
    that vanished, a reply that never came): what its output is doing is unknown until it
    answers again. False: it answered, and still holds the state it had (a refusal, one
    garbled reply).
    """

    def __init__(
        self, instrument: str, command: str, detail: str, *, link_lost: bool = False
    ) -> None:
        super().__init__(f"instrument {instrument}: command {command!r}: {detail}")
        self.instrument = instrument
        self.command = command
        self.detail = detail
        self.link_lost = link_lost


def check_runnable(step: Step, kinds: frozenset[str] | None = None, *, who: str = "") -> None:
    """Refuse, before any command goes out, a step that still has loop references (the
    engine binds each one first) or, given ``kinds``, one of a kind ``who`` cannot run."""
    if not step.is_bound:
        raise ValueError(f"step {step.name!r} still has loop references; bind it first")
    if kinds is not None and step.kind not in kinds:
        raise ValueError(
            f"step {step.name!r}: {who} cannot run {step.kind} steps"
            f" (it runs {', '.join(sorted(kinds))})"
        )
