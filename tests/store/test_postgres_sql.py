"""Statements as PostgreSQL gets them, checked without a server (the store tests run the
same statements on a real one too), and what only PostgreSQL does differently."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import make_url
from sqlalchemy.dialects import postgresql

from cyclerctl.plan import Plan
from cyclerctl.store import Store, models
from cyclerctl.store.batch import IMPEDANCE_COLUMNS, SAMPLE_COLUMNS, column_arrays, rows
from cyclerctl.store.database import alembic_config
from cyclerctl.store.upsert import (
    insert_ignore_arrays_sql,
    insert_ignore_sql,
    select_run_sql,
    upsert,
)

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


def test_blocks_go_to_postgresql_as_one_array_per_column() -> None:
    sql = insert_ignore_arrays_sql(models.samples, DIALECT, SAMPLE_COLUMNS)
    assert sql == (
        'INSERT INTO samples (run_id, seq, t, "V", "I", "Q", "T_K", step, cycle) '
        "SELECT * FROM unnest(%s::INTEGER[], %s::BIGINT[], %s::FLOAT[], %s::FLOAT[], "
        "%s::FLOAT[], %s::FLOAT[], %s::FLOAT[], %s::INTEGER[], %s::INTEGER[]) "
        "ON CONFLICT (run_id, seq) DO NOTHING"
    )
    block = sample_block(1, 8)  # T is NaN on seqs 1 and 8
    arrays = column_arrays(3, block, ("T",))
    assert len(arrays) == len(SAMPLE_COLUMNS)
    assert arrays[0] == [3] * 8 and arrays[1] == list(range(1, 9))
    assert arrays[6][0] is None and arrays[6][7] is None and arrays[6][1] == float(block["T"][1])
    assert all(v is not None for v in arrays[3])  # only nullable fields lose their NaN


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


def test_datetimes_come_back_utc_in_any_session_time_zone(postgres_url: str, plan: Plan) -> None:
    url = make_url(postgres_url).update_query_dict({"options": "-c timezone=Asia/Tokyo"})
    store = Store.open(url.render_as_string(hide_password=False))
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW timezone").scalar() == "Asia/Tokyo"
        before = datetime.now(UTC)
        run = store.create_run(plan, operator="o", instrument={}, channel="ch1")
        assert run.created_at.tzinfo is UTC
        assert timedelta(0) <= run.created_at - before < timedelta(minutes=1)
        store.heartbeat("rig-1", host="h", pid=1)
        (daemon,) = store.daemons()
        assert daemon.heartbeat_at.tzinfo is UTC and not daemon.is_stale(60.0)
    finally:
        store.close()


def test_a_plain_postgresql_url_uses_psycopg_3(postgres_url: str) -> None:
    plain = make_url(postgres_url).set(drivername="postgresql")
    store = Store.open(plain.render_as_string(hide_password=False))
    try:
        assert store.engine.dialect.driver == "psycopg"
        assert store.url.startswith("postgresql+psycopg://")
    finally:
        store.close()
