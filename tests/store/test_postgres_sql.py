"""PostgreSQL cannot run here; check at least that every statement compiles for it."""

from __future__ import annotations

import io

from alembic import command
from sqlalchemy.dialects import postgresql

from cyclerctl.store import models
from cyclerctl.store.batch import IMPEDANCE_COLUMNS, SAMPLE_COLUMNS, rows
from cyclerctl.store.database import alembic_config
from cyclerctl.store.upsert import insert_ignore_sql, select_run_sql, upsert

from .conftest import sample_block

DIALECT = postgresql.psycopg2.dialect()  # type: ignore[no-untyped-call]


def test_driver_sql_for_postgresql() -> None:
    sql = insert_ignore_sql(models.samples, DIALECT, SAMPLE_COLUMNS)
    assert sql == (
        'INSERT INTO samples (run_id, seq, t, "V", "I", "Q", "T_K", step, cycle) '
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, seq) DO NOTHING"
    )
    assert "ON CONFLICT (run_id, seq)" in insert_ignore_sql(
        models.impedance, DIALECT, IMPEDANCE_COLUMNS
    )
    assert select_run_sql(models.samples, DIALECT, ["seq", "T_K"]) == (
        'SELECT seq, "T_K" FROM samples WHERE run_id = %s ORDER BY seq'
    )


def test_unknown_temperature_is_null_where_nan_would_be_stored() -> None:
    block = sample_block(1, 8)  # T is NaN on seqs 1 and 8
    converted = rows(3, block, ("T",), nan_to_none=True)
    assert [r[6] for r in converted][::7] == [None, None]
    assert converted[1][:2] == (3, 2) and converted[1][6] == float(block["T"][1])
    assert all(r[6] != r[6] for r in rows(3, block, ("T",), nan_to_none=False)[::7])  # NaN


def test_upsert_compiles_for_postgresql() -> None:
    statement = upsert(models.checkpoints, DIALECT, {"run_id": 1, "step": 2}, ("run_id",))
    sql = str(statement.compile(dialect=DIALECT))
    assert "ON CONFLICT (run_id) DO UPDATE SET step = excluded.step" in sql


def test_migration_renders_for_postgresql() -> None:
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://lab@localhost/cyclerctl")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)  # offline mode: SQL text, no server
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE samples" in sql
    assert "WITHOUT ROWID" not in sql
    assert "PRIMARY KEY (run_id, seq)" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
