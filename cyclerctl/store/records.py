"""What the store hands in and out: row dtypes, statuses, and small frozen records.

Records that belong to one run (:class:`StepRecord`, :class:`EventRecord`,
:class:`Checkpoint`, :class:`Result`) carry no ``run_id``: the run is always the writer's
or the ``Store`` method's argument, on the way in and on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np

RUN_STATUSES: tuple[str, ...] = (
    "queued",
    "running",
    "paused",
    "completed",
    "safety_stop",
    "stopped",
    "failed",
    "interrupted",
)
#: A run in one of these has ended: ``ended_at`` is set and ``is_completed`` is true.
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "safety_stop", "stopped", "failed", "interrupted"}
)
#: A run in one of these holds its channel: a channel has at most one (claim_next sees to it).
ACTIVE_STATUSES: tuple[str, ...] = ("running", "paused")
EVENT_SEVERITIES: tuple[str, ...] = ("info", "warning", "alarm")
#: ``submit`` is written by Store.submit_run (the queue's audit); operators issue the others.
COMMAND_KINDS: tuple[str, ...] = ("submit", "pause", "resume", "stop")
OPERATOR_COMMANDS: tuple[str, ...] = ("pause", "resume", "stop")

#: One stored point. Unlike the driver's SAMPLE_DTYPE, ``t`` is *run* time (s); ``Q`` is the
#: charge passed in the step (C, signed); ``T`` is K, NaN when unknown (stored as NULL);
#: ``step`` is the executed step's ordinal (steps.step), ``cycle`` the cycle number.
SAMPLE_ROW_DTYPE = np.dtype(
    [
        ("seq", "i8"),
        ("t", "f8"),
        ("V", "f8"),
        ("I", "f8"),
        ("Q", "f8"),
        ("T", "f8"),
        ("step", "i8"),
        ("cycle", "i8"),
    ]
)

#: One stored impedance point: the driver's IMPEDANCE_DTYPE behind ``seq`` and ``step``;
#: ``t`` is run time (s), ``T`` NaN when unknown.
IMPEDANCE_ROW_DTYPE = np.dtype(
    [
        ("seq", "i8"),
        ("step", "i8"),
        ("f", "f8"),
        ("Zre", "f8"),
        ("Zim", "f8"),
        ("V_dc", "f8"),
        ("T", "f8"),
        ("t", "f8"),
    ]
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(name: str, value: datetime | None) -> None:
    # A naive datetime is ambiguous (local? UTC?); refuse it here, in the caller's thread,
    # rather than failing later on the writer thread.
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    guid: str
    protocol_name: str
    protocol_source: str
    protocol_sha256: str
    cell_name: str
    channel: str
    operator: str
    status: str
    end_reason: str | None
    is_completed: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    parameters: dict[str, Any]
    instrument: dict[str, Any]
    analysis: dict[str, Any]
    estimated_duration_s: float | None
    daemon: str | None = None  # the daemon that owns (claimed, adopted) or ran it
    overrides: dict[str, str] = field(default_factory=dict)  # the --set values as given
    queued_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: datetimes as ISO 8601 strings."""
        return {f.name: _iso(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One executed step. ``step`` is its ordinal in the run (1..), ``plan_index`` the
    Step.index in the Plan; ``t_end``/``end_reason`` stay None while it runs."""

    step: int
    plan_index: int
    name: str
    kind: str
    cycle: int
    loop_counters: Sequence[int]  # stored and read back as a tuple
    t_start: float
    t_end: float | None = None
    end_reason: str | None = None
    charge_Ah: float = 0.0
    discharge_Ah: float = 0.0
    charge_Wh: float = 0.0
    discharge_Wh: float = 0.0
    first_seq: int | None = None
    last_seq: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "loop_counters", tuple(self.loop_counters))
        for name in ("charge_Ah", "discharge_Ah", "charge_Wh", "discharge_Wh"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} is a magnitude and must be >= 0")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something worth telling the operator. ``t`` is run time (s) when known; ``id`` is
    set on records read back from the store."""

    kind: str  # step_end, safety, short, gap, operator, error, ...
    message: str = ""
    severity: str = "info"
    t: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def __post_init__(self) -> None:
        if self.severity not in EVENT_SEVERITIES:
            raise ValueError(f"severity must be one of {EVENT_SEVERITIES}, got {self.severity!r}")
        _require_aware("at", self.at)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a channel is, enough to resume: re-enter step ``step`` (plan_index) with its
    loop counters, elapsed time and charge; samples continue after ``last_seq``."""

    step: int
    plan_index: int
    loop_counters: Sequence[int]  # stored and read back as a tuple
    cycle: int
    step_elapsed_s: float
    step_charge_C: float
    step_t_start: float
    last_seq: int
    last_impedance_seq: int = 0
    updated_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        object.__setattr__(self, "loop_counters", tuple(self.loop_counters))
        _require_aware("updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class Result:
    """One named analysis result: a scalar ``value`` and/or a JSON ``data`` table.

    ``analysis_version`` and ``computed_at`` are filled on results read back; save_results
    ignores them (it takes the version as an argument and stamps the time itself).
    """

    value: float | None = None
    data: Any = None
    unit: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    analysis_version: str | None = None
    computed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One operator command and, once the owning daemon has acted on it, its answer.

    ``result`` is "ok" or why not; ``acknowledged_by`` names the daemon (None with
    ``acknowledged_at`` set: the store answered itself, e.g. a queued run stopped before
    any daemon claimed it).
    """

    id: int
    run_id: int
    kind: str
    operator: str
    host: str
    issued_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    result: str | None = None

    @property
    def pending(self) -> bool:
        return self.acknowledged_at is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: datetimes as ISO 8601 strings."""
        return {f.name: _iso(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """A daemon as its last heartbeat described it."""

    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    version: str
    instruments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since the last heartbeat."""
        return ((now or utcnow()) - self.heartbeat_at).total_seconds()

    def is_stale(self, stale_after_s: float, now: datetime | None = None) -> bool:
        return self.age_s(now) > stale_after_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: datetimes as ISO 8601 strings, name lists as lists."""
        values = {f.name: _iso(getattr(self, f.name)) for f in fields(self)}
        values["instruments"] = list(self.instruments)
        values["channels"] = list(self.channels)
        return values
