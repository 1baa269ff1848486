"""Initial schema: runs, steps, samples, impedance, events, results, checkpoints,
channel_latest.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Hand-written: explicit op calls, SI units in every column. ``samples`` and ``impedance``
are clustered by (run_id, seq) (WITHOUT ROWID on SQLite) so one run reads in one sweep;
they carry no other index. Temperature is ``T_K``: SQLite column names ignore case, so
``T`` would clash with ``t`` (time).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_STATUSES = (
    "queued",
    "running",
    "paused",
    "completed",
    "safety_stop",
    "stopped",
    "failed",
    "interrupted",
)
EVENT_SEVERITIES = ("info", "warning", "alarm")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _run_id(table: str, ondelete: str = "CASCADE", nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("runs.id", name=f"fk_{table}_run_id_runs", ondelete=ondelete),
        nullable=nullable,
    )


def _utc(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(36), nullable=False),
        sa.Column("protocol_name", sa.String, nullable=False),
        sa.Column("protocol_source", sa.String, nullable=False),
        sa.Column("protocol_text", sa.Text, nullable=False),
        sa.Column("protocol_sha256", sa.String(64), nullable=False),
        sa.Column("cell_name", sa.String, nullable=False),
        sa.Column("cell_text", sa.Text, nullable=False),
        sa.Column("cell_json", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("plan_json", sa.JSON, nullable=True),
        sa.Column("analysis", sa.JSON, nullable=False),
        sa.Column("instrument", sa.JSON, nullable=False),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("operator", sa.String, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("end_reason", sa.String, nullable=True),
        sa.Column("is_completed", sa.Boolean, nullable=False),
        _utc("created_at"),
        _utc("started_at", nullable=True),
        _utc("ended_at", nullable=True),
        sa.Column("estimated_duration_s", sa.Float, nullable=True),
        sa.UniqueConstraint("guid", name="uq_runs_guid"),
        sa.CheckConstraint(_in("status", RUN_STATUSES), name="ck_runs_status"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "steps",
        _run_id("steps"),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("plan_index", sa.Integer, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("loop_counters", sa.JSON, nullable=False),
        sa.Column("t_start", sa.Float, nullable=False),
        sa.Column("t_end", sa.Float, nullable=True),
        sa.Column("end_reason", sa.String, nullable=True),
        sa.Column("charge_Ah", sa.Float, nullable=False),
        sa.Column("discharge_Ah", sa.Float, nullable=False),
        sa.Column("charge_Wh", sa.Float, nullable=False),
        sa.Column("discharge_Wh", sa.Float, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "step", name="pk_steps"),
    )
    op.create_table(
        "samples",
        _run_id("samples"),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("V", sa.Float, nullable=False),
        sa.Column("I", sa.Float, nullable=False),
        sa.Column("Q", sa.Float, nullable=False),
        sa.Column("T_K", sa.Float, nullable=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_samples"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "impedance",
        _run_id("impedance"),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("f", sa.Float, nullable=False),
        sa.Column("Zre", sa.Float, nullable=False),
        sa.Column("Zim", sa.Float, nullable=False),
        sa.Column("V_dc", sa.Float, nullable=True),
        sa.Column("T_K", sa.Float, nullable=True),
        sa.Column("t", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_impedance"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _run_id("events"),
        sa.Column("t", sa.Float, nullable=True),
        _utc("at"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.CheckConstraint(_in("severity", EVENT_SEVERITIES), name="ck_events_severity"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_run_id_id", "events", ["run_id", "id"])
    op.create_table(
        "results",
        _run_id("results"),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("unit", sa.String, nullable=True),
        sa.Column("analysis_version", sa.String, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        _utc("computed_at"),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_results"),
    )
    op.create_table(
        "checkpoints",
        _run_id("checkpoints"),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("plan_index", sa.Integer, nullable=False),
        sa.Column("loop_counters", sa.JSON, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("step_elapsed_s", sa.Float, nullable=False),
        sa.Column("step_charge_C", sa.Float, nullable=False),
        sa.Column("step_t_start", sa.Float, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_impedance_seq", sa.BigInteger, nullable=False),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("run_id", name="pk_checkpoints"),
    )
    op.create_table(
        "channel_latest",
        sa.Column("channel", sa.String, nullable=False),
        _run_id("channel_latest", ondelete="SET NULL", nullable=True),
        sa.Column("t", sa.Float, nullable=True),
        sa.Column("V", sa.Float, nullable=True),
        sa.Column("I", sa.Float, nullable=True),
        sa.Column("Q", sa.Float, nullable=True),
        sa.Column("T_K", sa.Float, nullable=True),
        sa.Column("step", sa.Integer, nullable=True),
        sa.Column("cycle", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_latest"),
    )


def downgrade() -> None:
    for table in (
        "channel_latest",
        "checkpoints",
        "results",
        "events",
        "impedance",
        "samples",
        "steps",
        "runs",
    ):
        op.drop_table(table)
