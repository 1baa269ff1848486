"""Imported files: where an imported run came from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

Hand-written. One row per run made by ``cyclerctl import``: the source file's name, size and
sha256 (a second import of the same bytes is a no-op naming this run), the vendor and
format version, the tester's own channel and test identity, the start time as the file
gives it (ISO text: many cyclers keep local time without a zone), the cell's mass/area when
the file holds them, the reader that read it, and everything else the file said (JSON).
Self-contained: it only adds a table, so it re-chains after any other 0003.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_files",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", name="fk_imported_files_run_id_runs", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String, nullable=False),
        sa.Column("file_path", sa.String, nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String, nullable=False),
        sa.Column("format_version", sa.String, nullable=False),
        sa.Column("tester_channel", sa.String, nullable=False),
        sa.Column("test_id", sa.String, nullable=False),
        sa.Column("file_started_at", sa.String, nullable=True),
        sa.Column("active_mass_kg", sa.Float, nullable=True),
        sa.Column("area_m2", sa.Float, nullable=True),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("reader", sa.String, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_imported_files"),
    )
    op.create_index("ix_imported_files_sha256", "imported_files", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_imported_files_sha256", table_name="imported_files")
    op.drop_table("imported_files")
