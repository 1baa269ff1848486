"""Alembic environment for cyclerctl's migrations (there is no alembic.ini).

cyclerctl builds the Config in code (cyclerctl.store.database.alembic_config) and passes an
open connection in ``config.attributes["connection"]``; without one, the URL comes from
the ``sqlalchemy.url`` option or ``$CYCLERCTL_DB``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cyclerctl.store.database import default_url, make_engine
from cyclerctl.store.models import Base

config = context.config
target_metadata = Base.metadata  # lets `alembic check` / autogenerate diff future models


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or default_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = make_engine(_url(), dedicated=True)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
