"""Finished runs, newest first: status, end reason, key results; Enter opens one."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from cyclerctl.tui.data import HistoryRow, LabData
from cyclerctl.tui.messages import ShowRun
from cyclerctl.tui.screens.polling import PollingScreen
from cyclerctl.tui.widgets.footer import KeyFooter

_STATUS_STYLES = {"completed": "cyan", "stopped": "yellow"}


class HistoryScreen(PollingScreen):
    poll_interval = 5.0  # finished runs change rarely
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "back"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, lab: LabData) -> None:
        super().__init__()
        self.lab = lab
        self._shown: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static("[b]History[/b]: finished runs, newest first (Enter: open)")
        yield DataTable[str | Text](id="history", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("run", "channel", "status", "end", "protocol", "results", "cell", "ended"):
            table.add_column(label, key=label)
        super().on_mount()
        table.focus()

    def fetch(self) -> Any:
        return self.lab.history()

    def show(self, data: Any) -> None:
        rows: list[HistoryRow] = data
        table = self.query_one(DataTable)
        new = [row for row in rows if row.run.id not in self._shown]
        for row in sorted(new, key=lambda r: r.run.id, reverse=True):
            run = row.run
            ended = run.ended_at.strftime("%Y-%m-%d %H:%M") if run.ended_at else "-"
            cells = (
                str(run.id),
                run.channel,
                Text(run.status, style=_STATUS_STYLES.get(run.status, "bold red")),
                run.end_reason or "-",
                run.protocol_name,
                row.key_results or "-",
                run.cell_name,
                ended,
            )
            table.add_row(*cells, key=str(run.id))
            self._shown.add(run.id)
        if new and self._shown != {r.run.id for r in new}:  # newer runs go on top
            table.sort("run", key=lambda value: -int(str(value)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        run_id = int(event.row_key.value)
        run = next((r for r in self._runs() if r == run_id), None)
        if run is not None:
            channel = str(self.query_one(DataTable).get_cell(str(run_id), "channel"))
            self.post_message(ShowRun(run_id, channel))

    def _runs(self) -> set[int]:
        return self._shown
