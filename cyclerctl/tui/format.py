"""How the TUI prints lab values: SI floats in, short lab strings out."""

from __future__ import annotations

import math

#: states a channel is shown in that ask the technician to look
ATTENTION_STATES: frozenset[str] = frozenset(
    {"safety stop", "offline", "orphaned", "failed", "interrupted"}
)


def duration(seconds: float | None) -> str:
    """``3d07h``, ``2h05m``, ``4m09s``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(seconds, 0.0)
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{int(seconds % 60):02d}s"


def number(value: float | None, scale: float = 1.0, spec: str = ".4g") -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return format(value * scale, spec)


def volts(value: float | None) -> str:
    return number(value, 1.0, ".4f")


def milliamps(value: float | None) -> str:
    return number(value, 1e3, ".4g")


def milliamp_hours(value: float | None) -> str:
    return number(value, 1e3, ".4g")


def channel_order(name: str) -> tuple[str, int, str]:
    """sim:2 before sim:10."""
    instrument, _, index = name.rpartition(":")
    return (instrument, int(index), "") if index.isdigit() else (name, 0, name)
