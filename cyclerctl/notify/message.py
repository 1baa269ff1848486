"""What a notification says: one :class:`Notice` per thing that happened, and its text.

A message says what happened, on which channel, which run, protocol and cell, who started
it, the last V/I/T, the end reason, and the command to look (``cyclerctl show N``). A burst
(a power cut stopping many channels) is one message with a line per channel.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: How each event reads in a message.
WHAT = {
    "safety_stop": "safety stop",
    "failed": "run failed",
    "instrument_lost": "instrument lost",
    "store_outage": "database unwritable",
    "stopped": "run stopped",
    "completed": "run completed",
}
#: A run's final status → the event a target subscribes to.
STATUS_EVENT = {
    "safety_stop": "safety_stop",
    "failed": "failed",
    "stopped": "stopped",
    "interrupted": "stopped",
    "completed": "completed",
}
_KELVIN = 273.15


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing that happened, with what the lab needs to act on it."""

    event: str  # one of cyclerctl.notify.targets.EVENTS
    detail: str = ""  # the event's own words (the alarm message, the outage's cause)
    channel: str | None = None  # None: not one channel's (the database)
    run_id: int | None = None
    protocol: str | None = None
    cell: str | None = None
    operator: str | None = None
    status: str | None = None
    end_reason: str | None = None
    V: float | None = None  # last measured, SI
    I: float | None = None
    T: float | None = None  # K
    daemon: str | None = None
    channels: tuple[str, ...] = ()  # the channels it touches when it is not one channel's
    headline: str | None = None  # instead of the event's words ("database writable again")
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def touches(self) -> tuple[str, ...]:
        return (self.channel,) if self.channel else self.channels

    @property
    def what(self) -> str:
        return self.headline or WHAT.get(self.event, self.event)


def compose(notices: Sequence[Notice]) -> tuple[str, str]:
    """(title, body) of one message for ``notices`` (one, or a burst)."""
    if len(notices) == 1:
        return _one(notices[0])
    return _burst(notices)


def _one(n: Notice) -> tuple[str, str]:
    where = f" on {n.channel}" if n.channel else ""
    run = f", run {n.run_id}" if n.run_id is not None else ""
    title = f"cyclerctl: {n.what}{where}{run}"
    lines = [f"{n.what}{where}" + (f" (daemon {n.daemon})" if n.daemon else "")]
    if n.run_id is not None:
        lines.append(
            f"run {n.run_id}: {n.protocol or '?'} with cell {n.cell or '?'}, "
            f"started by {n.operator or '?'}"
        )
    if n.status or n.end_reason:
        lines.append(f"status: {n.status or '-'}, end reason: {n.end_reason or '-'}")
    if n.detail:
        lines.append(n.detail)
    reading = _reading(n)
    if reading:
        lines.append(f"last: {reading}")
    if n.channels and not n.channel:
        lines.append(f"channels: {', '.join(n.channels)}")
    lines.append(f"at {n.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    if n.run_id is not None:
        lines.append(f"look: cyclerctl show {n.run_id}")
    else:
        lines.append("look: cyclerctl status")
    return title, "\n".join(lines)


def _burst(notices: Sequence[Notice]) -> tuple[str, str]:
    counts = Counter(n.what for n in notices)
    kinds = ", ".join(f"{what} ×{k}" for what, k in counts.most_common())
    channels = sorted({c for n in notices for c in n.touches})
    first = min(n.at for n in notices)
    last = max(n.at for n in notices)
    span = (last - first).total_seconds()
    title = f"cyclerctl: {len(notices)} events on {len(channels)} channel(s): {kinds}"
    lines = [
        f"{len(notices)} events within {span:.0f} s "
        f"(from {first.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): {kinds}",
        "",
    ]
    for n in sorted(notices, key=lambda n: (_channel_order(n.channel or ""), n.at)):
        parts = [f"{n.channel or '-'}", n.what]
        if n.run_id is not None:
            parts.append(
                f"run {n.run_id} {n.protocol or '?'} / {n.cell or '?'} ({n.operator or '?'})"
            )
        if n.end_reason:
            parts.append(f"reason {n.end_reason}")
        reading = _reading(n)
        if reading:
            parts.append(reading)
        if n.run_id is not None:
            parts.append(f"cyclerctl show {n.run_id}")
        elif n.detail:
            parts.append(n.detail)
        lines.append("  " + " | ".join(parts))
    lines += ["", "look: cyclerctl status"]
    return title, "\n".join(lines)


def _reading(n: Notice) -> str:
    parts = []
    if _known(n.V):
        parts.append(f"V {n.V:.4f} V")
    if _known(n.I):
        assert n.I is not None
        parts.append(f"I {n.I * 1e3:.4g} mA")
    if _known(n.T):
        assert n.T is not None
        parts.append(f"T {n.T - _KELVIN:.1f} °C")
    return ", ".join(parts)


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _channel_order(name: str) -> tuple[str, int]:
    instrument, _, number = name.rpartition(":")
    return (instrument, int(number)) if number.isdigit() else (name, 0)
