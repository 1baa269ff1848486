"""The database tables (SQLAlchemy 2 declarative), SI units in every column.

Temperature is ``T_K``, not ``T``: SQLite column names ignore case, so ``T`` would clash with
``t`` (time). The numpy row dtypes keep the field name ``T``.

The schema itself is created by the hand-written alembic migrations; these classes describe
it for queries and must match them (tests/store compares the two). The hot paths use the
``Table`` objects below through Core or the driver, never ORM sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

from cyclerctl.store.records import COMMAND_KINDS, EVENT_SEVERITIES, RUN_STATUSES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def run_fk() -> Any:
    return ForeignKey("runs.id", ondelete="CASCADE")


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(in_list("status", RUN_STATUSES), name="status"),
        # the queue (status = queued, by channel) and "is this channel busy" both read it
        Index(None, "status", "channel"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(36), unique=True)
    protocol_name: Mapped[str] = mapped_column(String)
    protocol_source: Mapped[str] = mapped_column(String)
    protocol_text: Mapped[str] = mapped_column(Text)
    protocol_sha256: Mapped[str] = mapped_column(String(64))
    cell_name: Mapped[str] = mapped_column(String)
    cell_text: Mapped[str] = mapped_column(Text)
    cell_json: Mapped[Any] = mapped_column(JSON)
    parameters: Mapped[Any] = mapped_column(JSON)
    plan_json: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    analysis: Mapped[Any] = mapped_column(JSON)
    instrument: Mapped[Any] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String)
    operator: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String, nullable=True)
    is_completed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    estimated_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # 0002: the daemon's queue
    daemon: Mapped[str | None] = mapped_column(String, nullable=True)  # who owns / ran it
    overrides: Mapped[Any] = mapped_column(JSON, server_default=text("'{}'"))  # --set, as given
    cell_source: Mapped[str] = mapped_column(String, server_default=text("''"))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # not used yet


class StepRow(Base):
    __tablename__ = "steps"

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)  # ordinal in the run, 1..
    plan_index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer)
    loop_counters: Mapped[Any] = mapped_column(JSON)
    t_start: Mapped[float] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String, nullable=True)
    charge_Ah: Mapped[float] = mapped_column(Float)
    discharge_Ah: Mapped[float] = mapped_column(Float)
    charge_Wh: Mapped[float] = mapped_column(Float)
    discharge_Wh: Mapped[float] = mapped_column(Float)
    first_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SampleRow(Base):
    # Clustered by (run_id, seq): one run's history is one contiguous range of the b-tree.
    __tablename__ = "samples"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    t: Mapped[float] = mapped_column(Float)
    V: Mapped[float] = mapped_column(Float)
    I: Mapped[float] = mapped_column(Float)
    Q: Mapped[float] = mapped_column(Float)
    T_K: Mapped[float | None] = mapped_column(Float, nullable=True)  # T: SQLite names ignore case
    step: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)


class ImpedanceRow(Base):
    __tablename__ = "impedance"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    step: Mapped[int] = mapped_column(Integer)
    f: Mapped[float] = mapped_column(Float)
    Zre: Mapped[float] = mapped_column(Float)
    Zim: Mapped[float] = mapped_column(Float)
    V_dc: Mapped[float | None] = mapped_column(Float, nullable=True)
    T_K: Mapped[float | None] = mapped_column(Float, nullable=True)  # T: SQLite names ignore case
    t: Mapped[float] = mapped_column(Float)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(in_list("severity", EVENT_SEVERITIES), name="severity"),
        Index(None, "run_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, run_fk())
    t: Mapped[float | None] = mapped_column(Float, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSON)


class ResultRow(Base):
    __tablename__ = "results"

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    unit: Mapped[str | None] = mapped_column(String, nullable=True)
    analysis_version: Mapped[str] = mapped_column(String)
    source: Mapped[Any] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckpointRow(Base):
    __tablename__ = "checkpoints"

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True, autoincrement=False)
    step: Mapped[int] = mapped_column(Integer)
    plan_index: Mapped[int] = mapped_column(Integer)
    loop_counters: Mapped[Any] = mapped_column(JSON)
    cycle: Mapped[int] = mapped_column(Integer)
    step_elapsed_s: Mapped[float] = mapped_column(Float)
    step_charge_C: Mapped[float] = mapped_column(Float)
    step_t_start: Mapped[float] = mapped_column(Float)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_impedance_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelLatestRow(Base):
    """The newest point and status per channel: what status views read, never samples."""

    __tablename__ = "channel_latest"

    channel: Mapped[str] = mapped_column(String, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    t: Mapped[float | None] = mapped_column(Float, nullable=True)
    V: Mapped[float | None] = mapped_column(Float, nullable=True)
    I: Mapped[float | None] = mapped_column(Float, nullable=True)
    Q: Mapped[float | None] = mapped_column(Float, nullable=True)
    T_K: Mapped[float | None] = mapped_column(Float, nullable=True)  # T: SQLite names ignore case
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cycle: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommandRow(Base):
    """What an operator asked of a run (submit, pause, resume, stop), and the daemon's answer.

    The CLI and the TUI write these; the daemon that owns the run polls, acts, acknowledges.
    The rows stay: they are the run's audit trail.
    """

    __tablename__ = "commands"
    __table_args__ = (
        CheckConstraint(in_list("kind", COMMAND_KINDS), name="kind"),
        Index(None, "run_id", "id"),
        # what daemons poll: the few commands nobody has answered yet
        Index(
            "ix_commands_pending",
            "run_id",
            sqlite_where=text("acknowledged_at IS NULL"),
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, run_fk())
    kind: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str] = mapped_column(String)
    host: Mapped[str] = mapped_column(String, server_default=text("''"))  # where it was issued
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String, nullable=True)  # daemon name
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # "ok", or why not


class DaemonRow(Base):
    """One row per daemon name, rewritten by its heartbeat."""

    __tablename__ = "daemons"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    host: Mapped[str] = mapped_column(String)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[str] = mapped_column(String)
    instruments: Mapped[Any] = mapped_column(JSON)  # names of the instruments it drives
    channels: Mapped[Any] = mapped_column(JSON)  # names of the channels it drives


class ImportedFileRow(Base):
    """0003: where an imported run came from (one row per run made by ``cyclerctl import``)."""

    __tablename__ = "imported_files"
    __table_args__ = (Index(None, "sha256"),)

    run_id: Mapped[int] = mapped_column(Integer, run_fk(), primary_key=True, autoincrement=False)
    file_name: Mapped[str] = mapped_column(String)
    file_path: Mapped[str] = mapped_column(String)
    file_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    vendor: Mapped[str] = mapped_column(String)
    format_version: Mapped[str] = mapped_column(String)
    tester_channel: Mapped[str] = mapped_column(String)
    test_id: Mapped[str] = mapped_column(String)
    file_started_at: Mapped[str | None] = mapped_column(String, nullable=True)  # as the file says
    active_mass_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    records: Mapped[int] = mapped_column(BigInteger)
    reader: Mapped[str] = mapped_column(String)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[Any] = mapped_column(JSON)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


runs = _table(RunRow)
steps = _table(StepRow)
samples = _table(SampleRow)
impedance = _table(ImpedanceRow)
events = _table(EventRow)
results = _table(ResultRow)
checkpoints = _table(CheckpointRow)
channel_latest = _table(ChannelLatestRow)
commands = _table(CommandRow)
daemons = _table(DaemonRow)
imported_files = _table(ImportedFileRow)

TABLES: dict[str, Table] = {t.name: t for t in Base.metadata.sorted_tables}
