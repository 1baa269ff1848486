"""`cyclerctl commission`: prove a new instrument channel on a dummy load before a cell is on it.

A short, safe sequence — OCV, ±CC, a CV hold, the end conditions the instrument fires on
board, EIS where it has it, then record criteria and a safety limit through the engine —
each judged against the dummy's nominal values (Ohm's law, the RC arc). Never more than
±10 mA or ±1 V unless told; a channel that reads a cell's voltage is refused before any
current flows.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cyclerctl.drivers.base import Channel

from .checks import Check, Limits, NotADummy, Schedule, run_checks
from .dummy import DummyError, DummyLoad, parse_dummy
from .stepping import StepRunner

__all__ = [
    "Check",
    "CommissionReport",
    "DummyError",
    "DummyLoad",
    "Limits",
    "NotADummy",
    "commission",
    "parse_dummy",
]


@dataclass(frozen=True, slots=True)
class CommissionReport:
    channel: str
    dummy: DummyLoad
    limits: Limits
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "dummy": self.dummy.describe(),
            "limits": {"current_A": self.limits.current_A, "voltage_V": self.limits.voltage_V},
            "passed": self.passed,
            "checks": [
                {"name": c.name, "what": c.what, "expected": c.expected,
                 "measured": c.measured, "status": c.status, "detail": c.detail}
                for c in self.checks
            ],
        }

    def table(self) -> str:
        rows = [("check", "expected", "measured", "result")] + [
            (c.name, c.expected, c.measured, c.status.upper() + (f": {c.detail}" * bool(c.detail)))
            for c in self.checks
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [
            f"commissioning {self.channel} on {self.dummy.describe()} "
            f"(≤ {self.limits.current_A * 1e3:g} mA, ≤ {self.limits.voltage_V:g} V)"
        ]
        for row in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
                         + "  " + row[3])
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"{verdict}: {sum(c.status == 'pass' for c in self.checks)} passed, "
                     f"{sum(c.status == 'fail' for c in self.checks)} failed, "
                     f"{sum(c.status == 'skip' for c in self.checks)} skipped")
        return "\n".join(lines)


def commission(
    channel: Channel,
    dummy: DummyLoad,
    *,
    limits: Limits | None = None,
    speed: float = 1.0,
    db_url: str | None = None,
    instrument: dict[str, str] | None = None,
    operator: str = "commission",
) -> CommissionReport:
    """Run the sequence on ``channel``; raises :class:`NotADummy` before any current flows
    when the channel reads like a cell. ``speed``: the channel's clock against the wall
    clock (an emulator started faster than real time); 1 for hardware."""
    from cyclerctl.store import Store

    from .engine_checks import record_and_safety

    limits = limits or Limits()
    schedule = Schedule(dummy, limits, channel.capabilities.step_kinds)
    runner = StepRunner(channel, speed=speed)
    checks = list(run_checks(channel, runner, schedule))
    with _store(db_url) as url:
        store = Store.open(url)
        try:
            checks += record_and_safety(
                channel, schedule, store, instrument=instrument or {}, operator=operator
            )
        finally:
            store.close()
    return CommissionReport(channel.name, dummy, limits, tuple(checks))


@contextlib.contextmanager
def _store(db_url: str | None) -> Iterator[str]:
    if db_url is not None:
        yield db_url
        return
    with tempfile.TemporaryDirectory(prefix="cyclerctl-commission-") as folder:
        yield f"sqlite:///{Path(folder) / 'commission.db'}"
