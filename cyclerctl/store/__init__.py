"""The store: runs, samples, events and results in SQLite (WAL) or PostgreSQL.

See DESIGN.md, "Store". ``Store.open(url)`` migrates to head; ``Store.open_writer`` gives a
running channel its handle on the store's one batched writer thread (one connection, one
transaction a second for every run; it holds points while the database is unwritable).
The daemon's queue, commands and heartbeats are Store methods too (submit_run, claim_next,
issue_command, heartbeat, …).
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
from cyclerctl.store.writer import RunWriter, StoreBacklogFull, WriterError

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
    "StoreBacklogFull",
    "WriterError",
    "default_url",
]
