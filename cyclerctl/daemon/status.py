"""`cyclerctl status`: every channel and daemon, from small tables only (never samples)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from cyclerctl.config import Config
from cyclerctl.store import TERMINAL_STATUSES, Store
from cyclerctl.store.records import utcnow

#: a channel whose run is in (or ended with) one of these gets a line saying why
NEEDS_ATTENTION = frozenset({"paused", "safety_stop", "failed", "interrupted"})


def status_rows(store: Store, config: Config) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(channels, daemons) as JSON-friendly dicts. Channels the config names but the
    database has never seen are listed idle; ``state`` is what the channel is doing now."""
    now = utcnow()
    rows = {row["channel"]: dict(row) for row in store.channel_status()}
    unseen = [name for name in config.channel_names if name not in rows]
    waiting = _queued(store, unseen) if unseen else {}
    for name in unseen:
        rows[name] = {
            "channel": name,
            "run_id": None,
            "status": None,
            "queued": waiting.get(name, 0),
        }
    reasons = _end_reasons(store, [r["run_id"] for r in rows.values() if r.get("run_id")])
    channels = []
    for name in sorted(rows, key=_channel_order):
        row = rows[name]
        status = row.get("status")
        active = status in ("running", "paused")
        row["state"] = status if active else "idle"
        if not active:
            row["last_status"] = status if status in TERMINAL_STATUSES else None
        row["eta_s"] = _eta_s(row) if active else None
        run_id = row.get("run_id")
        row["end_reason"] = reasons.get(run_id) if run_id is not None else None
        if run_id is not None and _needs_attention(status, row["end_reason"]):
            row["alarm"] = _why(store, int(run_id), paused=status == "paused")
        channels.append({k: _jsonable(v) for k, v in row.items()})
    stale = config.daemon.stale_after_s
    daemons = []
    for daemon in store.daemons():
        entry = daemon.as_dict()
        age = (now - daemon.heartbeat_at).total_seconds()
        entry["heartbeat_age_s"] = age
        entry["alive"] = age <= stale
        daemons.append(entry)
    return channels, daemons


def _queued(store: Store, channels: list[str]) -> dict[str, int]:
    """Queued runs per channel, for channels that have no status row yet."""
    from sqlalchemy import func, select

    from cyclerctl.store import models

    runs = models.runs
    query = (
        select(runs.c.channel, func.count())
        .where(runs.c.status == "queued", runs.c.channel.in_(channels))
        .group_by(runs.c.channel)
    )
    with store.engine.connect() as connection:
        return {channel: int(count) for channel, count in connection.execute(query)}


def _needs_attention(status: str | None, end_reason: str | None) -> bool:
    return status in NEEDS_ATTENTION or end_reason == "short"


def _end_reasons(store: Store, run_ids: list[int]) -> dict[int, str | None]:
    """Each run's end reason, in one query on the runs table."""
    from sqlalchemy import select

    from cyclerctl.store import models

    if not run_ids:
        return {}
    runs = models.runs
    query = select(runs.c.id, runs.c.end_reason).where(runs.c.id.in_(run_ids))
    with store.engine.connect() as connection:
        return {int(run_id): reason for run_id, reason in connection.execute(query)}


def _why(store: Store, run_id: int, *, paused: bool) -> str | None:
    """What stopped the run (its latest alarm) or paused it (the latest operator or
    instrument event); read only for the few channels that need attention."""
    if paused:
        why = [e for e in store.events(run_id) if e.kind in ("operator", "instrument")]
    else:
        why = [e for e in store.events(run_id) if e.severity == "alarm"]
    return why[-1].message if why else None


def _channel_order(name: str) -> tuple[str, int, str]:
    instrument, _, number = name.rpartition(":")
    return (instrument, int(number), "") if number.isdigit() else (name, 0, name)


def _eta_s(row: dict[str, Any]) -> float | None:
    estimate, t = row.get("estimated_duration_s"), row.get("t")
    if estimate is None:
        return None
    return max(float(estimate) - float(t or 0.0), 0.0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def problems(
    channels: list[dict[str, Any]], daemons: list[dict[str, Any]], config: Config
) -> list[str]:
    """What `status --check` reports, one line each: daemons not responding, channels in
    alarm (their run paused, stopped on safety, failed, interrupted, or a short).

    With a config that names instruments, its own daemon is the one that must be alive
    (and one that has never run is a problem); without, every daemon the database knows."""
    found = []
    mine = config.daemon.name if config.instruments else None
    watched = [d for d in daemons if mine is None or d["name"] == mine]
    if mine is not None and not watched:
        found.append(f"daemon {mine} has never run against this database")
    for d in watched:
        if not d["alive"]:
            found.append(
                f"daemon {d['name']} on {d['host']} (pid {d['pid']}) not responding: last "
                f"heartbeat {d['heartbeat_age_s']:.0f} s ago"
            )
    for row in channels:
        status = row.get("status")
        if row.get("run_id") is None or not _needs_attention(status, row.get("end_reason")):
            continue
        reason = f" ({row['end_reason']})" if row.get("end_reason") else ""
        alarm = f": {row['alarm']}" if row.get("alarm") else ""
        found.append(f"{row['channel']}: run {row['run_id']} {status}{reason}{alarm}")
    return found


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{int(seconds % 60):02d}s"


def _number(value: Any, scale: float, digits: str) -> str:
    return "-" if value is None else format(float(value) * scale, digits)


def format_status(channels: list[dict[str, Any]], daemons: list[dict[str, Any]]) -> str:
    head = (
        f"{'channel':<10} {'state':<8} {'run':>5}  {'protocol':<20} {'step':<24} {'cycle':>5} "
        f"{'V':>8} {'I mA':>9} {'cap mAh':>9} {'ETA':>7} {'queue':>5}"
    )
    lines = [head]
    for row in channels:
        active = row["state"] != "idle"  # an idle channel's row still names its last run
        run = row.get("run_id") if active else None
        step = "-"
        if active and row.get("step") is not None:
            step = f"{row['step']} {row.get('step_name') or ''}".strip()
        cycle = row.get("cycle") if active and row.get("cycle") is not None else "-"
        lines.append(
            f"{row['channel']:<10} {row['state']:<8} {run if run is not None else '-':>5}  "
            f"{(row.get('protocol') or '-') if active else '-':<20.20} {step:<24.24} "
            f"{cycle:>5} "
            f"{_number(row.get('V') if active else None, 1.0, '.4f'):>8} "
            f"{_number(row.get('I') if active else None, 1e3, '.4g'):>9} "
            f"{_number(row.get('capacity_Ah') if active else None, 1e3, '.4g'):>9} "
            f"{_duration(row.get('eta_s')):>7} {row.get('queued') or 0:>5}"
        )
    for row in channels:
        status = row.get("status") or "-"
        if row.get("run_id") is not None and _needs_attention(status, row.get("end_reason")):
            reason = f" ({row['end_reason']})" if row.get("end_reason") else ""
            alarm = f": {row['alarm']}" if row.get("alarm") else ""
            lines.append(f"{row['channel']}: run {row['run_id']} {status}{reason}{alarm}")
    if not daemons:
        lines.append("no daemon has ever run against this database (cyclerctl daemon --config …)")
    for d in daemons:
        alive = "alive" if d["alive"] else "NOT RESPONDING"
        lines.append(
            f"daemon {d['name']} on {d['host']} (pid {d['pid']}): {alive}, heartbeat "
            f"{d['heartbeat_age_s']:.1f} s ago; channels {', '.join(d['channels']) or '-'}"
        )
    return "\n".join(lines)
