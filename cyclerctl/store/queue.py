"""The daemon's side of the store: run queue, operator commands, heartbeats, orphaned runs.

The CLI and the TUI never talk to a daemon directly: they write here (submit a run, issue a
command) and read here (channel status, the audit trail); daemons poll (claim_next,
pending_commands), answer (acknowledge) and say they are alive (heartbeat). Every function
takes a connection already inside the caller's transaction; the ones that check and then
write expect :func:`cyclerctl.store.database.write_transaction` (SQLite: BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    update,
)

from cyclerctl.store import models
from cyclerctl.store.database import ADVISORY_NAMESPACE, advisory_key
from cyclerctl.store.queries import RUN_INFO_COLUMNS, field_of_column, run_info
from cyclerctl.store.records import (
    ACTIVE_STATUSES,
    OPERATOR_COMMANDS,
    TERMINAL_STATUSES,
    CommandRecord,
    DaemonInfo,
    RunInfo,
    utcnow,
)
from cyclerctl.store.upsert import insert, upsert

#: end_reason of a queued run stopped before any daemon claimed it
CANCELLED_REASON = "operator"


def hold_channel(connection: Connection, channel: str, run_id: int, status: str) -> None:
    """Point the channel's status row at a run that starts on it (no point yet)."""
    values: dict[str, Any] = {
        "channel": channel,
        "run_id": run_id,
        **dict.fromkeys(("t", "V", "I", "Q", "T_K", "step", "cycle")),
        "status": status,
        "updated_at": utcnow(),
    }
    connection.execute(upsert(models.channel_latest, connection.dialect, values, ("channel",)))


def channel_busy(channel: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where a run on ``channel`` is running or paused."""
    active = models.runs.alias("active")
    return exists().where(active.c.channel == channel, active.c.status.in_(ACTIVE_STATUSES))


# -- the queue ------------------------------------------------------------------------------


def _claimable(channels: Sequence[str]) -> Any:
    runs = models.runs
    return (
        select(runs.c.id, runs.c.channel)
        .where(
            runs.c.status == "queued",
            runs.c.channel.in_(list(channels)),
            ~channel_busy(runs.c.channel),
        )
        .order_by(runs.c.queued_at, runs.c.id)
    )


def _pick_sqlite(connection: Connection, channels: Sequence[str]) -> Row[Any] | None:
    # BEGIN IMMEDIATE holds the one write lock: nobody else claims until we commit
    return connection.execute(_claimable(channels).limit(1)).first()


def _pick_postgresql(connection: Connection, channels: Sequence[str]) -> Row[Any] | None:
    # SKIP LOCKED alone would let two daemons take two *different* queued runs of one free
    # channel at once. So a claimer first takes the channel's advisory lock (try: a busy
    # lock means someone is claiming on that channel right now, try the next one), then,
    # holding it, reads the channel's oldest queued run again with a fresh snapshot (READ
    # COMMITTED: a run claimed and committed meanwhile makes the channel busy) and locks it.
    runs = models.runs
    tried: set[str] = set()
    for _run_id, channel in connection.execute(_claimable(channels)).all():
        if channel in tried:
            continue
        tried.add(channel)
        locked = connection.execute(
            select(func.pg_try_advisory_xact_lock(ADVISORY_NAMESPACE, advisory_key(channel)))
        ).scalar_one()
        if not locked:
            continue
        row = connection.execute(
            _claimable([channel]).limit(1).with_for_update(skip_locked=True, of=runs)
        ).first()
        if row is not None:
            return row
    return None


def claim(connection: Connection, channels: Sequence[str], daemon: str) -> int | None:
    """Start the oldest queued run on a free one of ``channels`` for ``daemon``; its id."""
    if not channels:
        return None
    if connection.dialect.name == "postgresql":
        row = _pick_postgresql(connection, channels)
    else:
        row = _pick_sqlite(connection, channels)
    if row is None:
        return None
    run_id, channel = row.id, row.channel
    now = utcnow()  # after the locks: a claim never predates the end of the run before it
    runs, commands = models.runs, models.commands
    connection.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            status="running",
            daemon=daemon,
            started_at=now,
            ended_at=None,
            end_reason=None,
            is_completed=False,
        )
    )
    connection.execute(  # the submission is answered by the daemon that took it
        update(commands)
        .where(
            commands.c.run_id == run_id,
            commands.c.kind == "submit",
            commands.c.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now, acknowledged_by=daemon, result="ok")
    )
    hold_channel(connection, channel, run_id, "running")
    return int(run_id)


# -- commands -------------------------------------------------------------------------------


def add_command(
    connection: Connection,
    run_id: int,
    kind: str,
    *,
    operator: str,
    host: str,
    answered: str | None = None,
) -> int:
    """Insert a command row; ``answered``: the store's own answer (no daemon needed)."""
    now = utcnow()
    values: dict[str, Any] = {
        "run_id": run_id,
        "kind": kind,
        "operator": operator,
        "host": host,
        "issued_at": now,
    }
    if answered is not None:
        values |= {"acknowledged_at": now, "result": answered}
    result = connection.execute(models.commands.insert().values(**values))
    (command_id,) = result.inserted_primary_key or (None,)
    assert isinstance(command_id, int)
    return command_id


def issue(connection: Connection, run_id: int, kind: str, *, operator: str, host: str) -> int:
    """Record an operator's pause/resume/stop for the run's daemon; see Store.issue_command."""
    if kind not in OPERATOR_COMMANDS:
        raise ValueError(f"command must be one of {', '.join(OPERATOR_COMMANDS)}; got {kind!r}")
    runs = models.runs
    # FOR NO KEY UPDATE (PostgreSQL): waits for a claim of this run in flight, and does not
    # block the writer's inserts that only reference the run
    status = connection.execute(
        select(runs.c.status).where(runs.c.id == run_id).with_for_update(key_share=True)
    ).scalar_one_or_none()
    if status is None:
        raise KeyError(f"no run {run_id}")
    if status in TERMINAL_STATUSES:
        raise ValueError(f"run {run_id} has ended ({status}): nothing to {kind}")
    if status == "queued":
        if kind != "stop":
            raise ValueError(f"run {run_id} is queued, not started: it can only be stopped")
        # nobody owns it yet: the store takes it out of the queue itself
        connection.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="stopped",
                end_reason=CANCELLED_REASON,
                is_completed=True,
                ended_at=utcnow(),
            )
        )
        return add_command(connection, run_id, kind, operator=operator, host=host, answered="ok")
    return add_command(connection, run_id, kind, operator=operator, host=host)


def command_record(row: Row[Any]) -> CommandRecord:
    m = row._mapping
    return CommandRecord(
        id=m["id"],
        run_id=m["run_id"],
        kind=m["kind"],
        operator=m["operator"],
        host=m["host"],
        issued_at=m["issued_at"],
        acknowledged_at=m["acknowledged_at"],
        acknowledged_by=m["acknowledged_by"],
        result=m["result"],
    )


def pending(connection: Connection, daemon: str) -> list[CommandRecord]:
    commands, runs = models.commands, models.runs
    query = (
        select(commands)
        .join(runs, runs.c.id == commands.c.run_id)
        .where(
            runs.c.daemon == daemon,
            commands.c.acknowledged_at.is_(None),
            commands.c.kind != "submit",
        )
        .order_by(commands.c.id)  # ids, not issued_at: hosts' clocks may disagree
    )
    return [command_record(row) for row in connection.execute(query)]


def acknowledge(connection: Connection, command_id: int, *, daemon: str, result: str) -> None:
    commands = models.commands
    answered = connection.execute(
        update(commands)
        .where(commands.c.id == command_id, commands.c.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=daemon, result=result)
    )
    if answered.rowcount == 0:
        known = connection.execute(select(commands.c.id).where(commands.c.id == command_id)).first()
        if known is None:
            raise KeyError(f"no command {command_id}")
        # answered already: the first answer stands (a daemon may re-answer after a restart)


def command_log(connection: Connection, run_id: int | None) -> list[CommandRecord]:
    commands = models.commands
    query = select(commands).order_by(commands.c.id)
    if run_id is not None:
        query = query.where(commands.c.run_id == run_id)
    return [command_record(row) for row in connection.execute(query)]


# -- daemons --------------------------------------------------------------------------------


def heartbeat(
    connection: Connection,
    daemon: str,
    *,
    host: str,
    pid: int,
    version: str,
    instruments: Sequence[str],
    channels: Sequence[str],
) -> None:
    """Insert or refresh the daemon's row; ``started_at`` changes when its process does."""
    table = models.daemons
    now = utcnow()
    statement = insert(table, connection.dialect).values(
        name=daemon,
        host=host,
        pid=pid,
        started_at=now,
        heartbeat_at=now,
        version=version,
        instruments=list(instruments),
        channels=list(channels),
    )
    new = statement.excluded
    same_process = and_(table.c.pid == new.pid, table.c.host == new.host)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "host": new.host,
            "pid": new.pid,
            "started_at": case((same_process, table.c.started_at), else_=new.started_at),
            "heartbeat_at": new.heartbeat_at,
            "version": new.version,
            "instruments": new.instruments,
            "channels": new.channels,
        },
    )
    connection.execute(statement)


def daemon_list(connection: Connection) -> list[DaemonInfo]:
    table = models.daemons
    return [
        DaemonInfo(
            name=row.name,
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            version=row.version,
            instruments=tuple(row.instruments or ()),
            channels=tuple(row.channels or ()),
        )
        for row in connection.execute(select(table).order_by(table.c.name))
    ]


def forget_daemon(connection: Connection, name: str) -> None:
    connection.execute(models.daemons.delete().where(models.daemons.c.name == name))


def _orphaned(daemon: str, stale_after_s: float, dead: Sequence[str] = ()) -> ColumnElement[bool]:
    """Active runs of ``daemon`` (it restarted) or of a daemon with no recent heartbeat.

    Runs without a daemon (started in the foreground by ``cyclerctl run``) are never
    orphans: the process running them may well be alive.
    """
    runs, daemons = models.runs, models.daemons
    cutoff: datetime = utcnow() - timedelta(seconds=stale_after_s)
    alive = exists().where(daemons.c.name == runs.c.daemon, daemons.c.heartbeat_at >= cutoff)
    return and_(
        runs.c.status.in_(ACTIVE_STATUSES),
        runs.c.daemon.is_not(None),
        or_(runs.c.daemon == daemon, runs.c.daemon.in_(list(dead)), ~alive),
    )


def orphans(
    connection: Connection,
    daemon: str,
    *,
    stale_after_s: float,
    channels: Sequence[str] | None,
) -> list[RunInfo]:
    runs = models.runs
    query = select(*RUN_INFO_COLUMNS).where(_orphaned(daemon, stale_after_s)).order_by(runs.c.id)
    if channels is not None:
        query = query.where(runs.c.channel.in_(list(channels)))
    return [run_info(row) for row in connection.execute(query)]


def adopt(
    connection: Connection,
    run_id: int,
    daemon: str,
    *,
    stale_after_s: float,
    dead: Sequence[str] = (),
) -> bool:
    runs = models.runs
    previous = connection.execute(
        select(runs.c.daemon)
        .where(runs.c.id == run_id, _orphaned(daemon, stale_after_s, dead))
        .with_for_update(of=runs)
    ).first()
    if previous is None:
        return False
    connection.execute(update(runs).where(runs.c.id == run_id).values(daemon=daemon))
    if previous.daemon != daemon:
        connection.execute(
            models.events.insert().values(
                run_id=run_id,
                t=None,
                at=utcnow(),
                kind="adopted",
                severity="warning",
                message=f"{daemon} took over from {previous.daemon} (no longer alive)",
                data={"from": previous.daemon, "to": daemon},
            )
        )
    return True


# -- status -------------------------------------------------------------------------------


def channel_status(connection: Connection) -> list[dict[str, Any]]:
    """Every channel_latest row with its run and step: small tables and keys, no samples."""
    latest, runs, steps = models.channel_latest, models.runs, models.steps
    waiting = models.runs.alias("waiting")
    queued = (
        select(func.count())
        .where(waiting.c.channel == latest.c.channel, waiting.c.status == "queued")
        .scalar_subquery()
    )
    query = (
        select(
            latest.c.channel,
            latest.c.run_id,
            func.coalesce(runs.c.status, latest.c.status).label("status"),
            runs.c.protocol_name.label("protocol"),
            runs.c.cell_name.label("cell"),
            runs.c.operator,
            runs.c.daemon,
            latest.c.step,
            steps.c.name.label("step_name"),
            steps.c.kind.label("step_kind"),
            latest.c.cycle,
            latest.c.t,
            latest.c.V,
            latest.c.I,
            latest.c.Q,
            latest.c.T_K.label(field_of_column("T_K")),
            runs.c.estimated_duration_s,
            runs.c.started_at,
            latest.c.updated_at,
            queued.label("queued"),
        )
        .select_from(
            latest.outerjoin(runs, runs.c.id == latest.c.run_id).outerjoin(
                steps, and_(steps.c.run_id == latest.c.run_id, steps.c.step == latest.c.step)
            )
        )
        .order_by(latest.c.channel)
    )
    rows = []
    for row in connection.execute(query):
        values = dict(row._mapping)
        charge = values["Q"]
        # what a cycler's status screen calls capacity: charge passed in this step, in Ah
        values["capacity_Ah"] = None if charge is None else abs(charge) / 3600.0
        rows.append(values)
    return rows
