"""Text the CLI prints about runs: progress while one runs, `runs` and `show` tables."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from cyclerctl.engine.program import Position, total_positions
from cyclerctl.plan import Plan
from cyclerctl.store import EventRecord, Result, RunInfo, StepRecord


class Progress:
    """One line per finished cycle (and per step outside cycles) on stderr."""

    def __init__(self, plan: Plan, *, quiet: bool = False, out: TextIO | None = None) -> None:
        self.plan = plan
        self.quiet = quiet
        self.out = out or sys.stderr
        self.total_steps = total_positions(plan)
        self._cycle = 0
        self._charge_Ah = 0.0
        self._discharge_Ah = 0.0

    def started(self, run: RunInfo) -> None:
        self._say(f"run {run.id} ({run.guid}) started: {run.protocol_name} on {run.channel}")

    def step_ended(self, position: Position, record: StepRecord) -> None:
        if position.cycle != self._cycle:
            self._close_cycle()
            self._cycle = position.cycle
        self._charge_Ah += record.charge_Ah
        self._discharge_Ah += record.discharge_Ah
        if position.cycle == 0:
            self._say(f"  step {record.step}: {record.name} ended ({record.end_reason})")

    def finished(self, run: RunInfo, results: Mapping[str, Result]) -> None:
        self._close_cycle()
        print(f"run {run.id}: {run.status} ({run.end_reason})")
        for line in format_results(results):
            print(line)

    def _close_cycle(self) -> None:
        if self._cycle > 0:
            self._say(format_cycle(self._cycle, self._charge_Ah, self._discharge_Ah))
        self._charge_Ah = self._discharge_Ah = 0.0

    def _say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.out, flush=True)


def format_cycle(cycle: int, charge_Ah: float, discharge_Ah: float) -> str:
    """A finished cycle's line: its charge, discharge and coulombic efficiency."""
    ce = discharge_Ah / charge_Ah if charge_Ah > 0 else float("nan")
    return (
        f"  cycle {cycle}: charge {charge_Ah * 1e3:.4f} mAh, "
        f"discharge {discharge_Ah * 1e3:.4f} mAh, CE {ce:.4f}"
    )


def format_results(results: Mapping[str, Result]) -> list[str]:
    lines = []
    for name, r in sorted(results.items()):
        if r.value is not None:
            unit = f" {r.unit}" if r.unit and r.unit != "1" else ""
            lines.append(f"  {name} = {r.value:.6g}{unit}")
        elif isinstance(r.data, list):
            lines.append(f"  {name}: table of {len(r.data)} rows (show --json)")
    return lines


def format_runs(runs: Sequence[RunInfo]) -> str:
    head = (
        f"{'id':>4}  {'status':<12} {'protocol':<22} {'cell':<30} {'channel':<8} "
        f"{'started':<19}  end reason"
    )
    rows = [head]
    for r in runs:
        started = r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "-"
        rows.append(
            f"{r.id:>4}  {r.status:<12} {r.protocol_name[:22]:<22} {r.cell_name[:30]:<30} "
            f"{r.channel[:8]:<8} {started:<19}  {r.end_reason or ''}"
        )
    return "\n".join(rows)


def format_run(
    run: RunInfo,
    results: Mapping[str, Result],
    steps: Sequence[StepRecord],
    events: Sequence[EventRecord],
) -> str:
    info: dict[str, Any] = run.as_dict()
    lines = [f"run {run.id}  {run.guid}"]
    for key in (
        "protocol_name",
        "cell_name",
        "channel",
        "operator",
        "status",
        "end_reason",
        "created_at",
        "started_at",
        "ended_at",
    ):
        lines.append(f"  {key:<14} {info.get(key)}")
    lines.append(f"  {'steps':<14} {len(steps)}")
    if events:
        lines.append("events:")
        for e in events[-10:]:
            t = f"{e.t / 3600:8.3f} h" if e.t is not None else "         -"
            lines.append(f"  {t}  {e.severity:<7} {e.kind:<10} {e.message}")
    if results:
        lines.append("results:")
        lines.extend(format_results(results))
    return "\n".join(lines)
