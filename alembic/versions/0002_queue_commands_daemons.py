"""The daemon's queue: run ownership and overrides, commands, daemons.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-03

Hand-written. ``runs`` gains the daemon that owns it, the ``--set`` overrides as given, the
cell's source, when it was queued and a priority (0; not used yet: the queue is served by
``queued_at`` then ``id``). ``commands`` is what the CLI/TUI ask of a run and the owning
daemon's answer; ``daemons`` holds one heartbeat row per daemon. Rows that exist already
keep their data: their new columns get defaults, ``cell_source`` is filled from the stored
cell and ``queued_at`` of queued runs from ``created_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMAND_KINDS = ("submit", "pause", "resume", "stop")
PENDING = "acknowledged_at IS NULL"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _utc(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _backfill_runs() -> None:
    """cell_source from the stored cell JSON; queued_at of runs waiting in the queue.

    Plain SQL, so that offline mode (``alembic upgrade --sql``) renders it too.
    """
    if op.get_context().dialect.name == "sqlite":
        source = "json_extract(cell_json, '$.source')"
    else:
        source = "cell_json ->> 'source'"
    op.execute(f"UPDATE runs SET cell_source = {source} WHERE {source} IS NOT NULL")
    op.execute("UPDATE runs SET queued_at = created_at WHERE status = 'queued'")


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rebuild, on SQLite or PostgreSQL
    op.add_column("runs", sa.Column("daemon", sa.String, nullable=True))
    op.add_column(
        "runs", sa.Column("overrides", sa.JSON, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column(
        "runs", sa.Column("cell_source", sa.String, nullable=False, server_default=sa.text("''"))
    )
    op.add_column("runs", _utc("queued_at", nullable=True))
    op.add_column(
        "runs", sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0"))
    )
    op.create_index("ix_runs_status_channel", "runs", ["status", "channel"])
    _backfill_runs()

    op.create_table(
        "commands",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", name="fk_commands_run_id_runs", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("operator", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False, server_default=sa.text("''")),
        _utc("issued_at"),
        _utc("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.CheckConstraint(_in("kind", COMMAND_KINDS), name="ck_commands_kind"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_commands_run_id_id", "commands", ["run_id", "id"])
    op.create_index(
        "ix_commands_pending",
        "commands",
        ["run_id"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )

    op.create_table(
        "daemons",
        sa.Column("name", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        _utc("started_at"),
        _utc("heartbeat_at"),
        sa.Column("version", sa.String, nullable=False),
        sa.Column("instruments", sa.JSON, nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_daemons"),
    )


def downgrade() -> None:
    op.drop_table("daemons")
    op.drop_index("ix_commands_pending", table_name="commands")
    op.drop_index("ix_commands_run_id_id", table_name="commands")
    op.drop_table("commands")
    op.drop_index("ix_runs_status_channel", table_name="runs")
    # plain DROP COLUMN (SQLite >= 3.35): a batch rebuild of runs would lose AUTOINCREMENT
    for column in ("priority", "queued_at", "cell_source", "overrides", "daemon"):
        op.drop_column("runs", column)
