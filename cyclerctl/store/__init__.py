"""The store: runs, samples, events and results in SQLite (WAL) or PostgreSQL.

See DESIGN.md, "Store". ``Store.open(url)`` migrates to head; ``Store.open_writer`` starts
the batched writer thread a running channel logs through. The daemon's queue, commands and
heartbeats are Store methods too (submit_run, claim_next, issue_command, heartbeat, …).
"""

from cyclerctl.store.database import default_url
from cyclerctl.store.records import (
    ACTIVE_STATUSES,
    COMMAND_KINDS,
    EVENT_SEVERITIES,
    IMPEDANCE_ROW_DTYPE,
    RUN_STATUSES,
    SAMPLE_ROW_DTYPE,
    TERMINAL_STATUSES,
    Checkpoint,
    CommandRecord,
    DaemonInfo,
    EventRecord,
    Result,
    RunInfo,
    StepRecord,
)
from cyclerctl.store.store import Store
from cyclerctl.store.writer import RunWriter, WriterError

__all__ = [
    "ACTIVE_STATUSES",
    "COMMAND_KINDS",
    "EVENT_SEVERITIES",
    "IMPEDANCE_ROW_DTYPE",
    "RUN_STATUSES",
    "SAMPLE_ROW_DTYPE",
    "TERMINAL_STATUSES",
    "Checkpoint",
    "CommandRecord",
    "DaemonInfo",
    "EventRecord",
    "Result",
    "RunInfo",
    "RunWriter",
    "StepRecord",
    "Store",
    "WriterError",
    "default_url",
]
