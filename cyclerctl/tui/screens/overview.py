"""The lab overview: every channel of every instrument, one row each."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from cyclerctl.tui.data import ChannelRow, LabData
from cyclerctl.tui.format import ATTENTION_STATES
from cyclerctl.tui.messages import CommandRun, LaunchOnChannel, OpenChannel
from cyclerctl.tui.screens.polling import PollingScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from cyclerctl.tui.widgets.footer import KeyFooter

#: the state filter cycles through these ("attention" is any state in ATTENTION_STATES)
STATE_FILTERS: tuple[str, ...] = ("all", "running", "paused", "idle", "done", "attention")


def matches(row: ChannelRow, state: str, instrument: str) -> bool:
    if instrument != "all" and row.instrument != instrument:
        return False
    if state == "all":
        return True
    if state == "attention":
        return row.state in ATTENTION_STATES
    if state == "idle":
        return row.state in ("idle", "queued")
    return row.state == state


class OverviewScreen(PollingScreen):
    poll_interval = 0.5  # ≥ 1 refresh/s with room to spare
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "detail", show=False),
        Binding("l", "launch", "launch"),
        Binding("p", "command('pause')", "pause"),
        Binding("r", "command('resume')", "resume"),
        Binding("s", "command('stop')", "stop"),
        Binding("f", "cycle_state", "state filter"),
        Binding("i", "cycle_instrument", "instrument"),
        Binding("h", "app.push_screen('history')", "history"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, lab: LabData, *, read_only: bool = False) -> None:
        super().__init__()
        self.lab = lab
        self.read_only = read_only
        self.rows: list[ChannelRow] = []
        self.state_filter = "all"
        self.instrument_filter = "all"
        self._title = ""

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield ChannelTable(id="channels")
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_title()
        self.query_one(ChannelTable).focus()

    def fetch(self) -> Any:
        return self.lab.overview()

    def show(self, data: Any) -> None:
        self.rows = list(data)
        self._apply()

    def _apply(self) -> None:
        shown = [r for r in self.rows if matches(r, self.state_filter, self.instrument_filter)]
        self.query_one(ChannelTable).show_rows(shown)
        self._show_title()

    def _show_title(self) -> None:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.state] = counts.get(row.state, 0) + 1
        summary = " ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        mode = " [b]READ-ONLY[/b]" if self.read_only else ""
        title = (
            f"[b]cyclerctl[/b]{mode}  filter: {self.state_filter}/{self.instrument_filter}"
            f"  {summary}"
        )
        if self.problem is not None:  # the values below are the last ones read
            title = f"[b white on red] DATABASE: {escape(self.problem)} [/]  {title}"
        if title != self._title:  # an update re-lays out the whole screen: only on a change
            self._title = title
            self.query_one("#title", Static).update(title)

    def show_problem(self, problem: str | None) -> None:
        self._show_title()

    def selected(self) -> ChannelRow | None:
        channel = self.query_one(ChannelTable).selected_channel
        return next((r for r in self.rows if r.channel == channel), None)

    # -- actions ----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(OpenChannel(row))

    def action_launch(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(LaunchOnChannel(row))

    def action_command(self, kind: str) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(CommandRun(row.run_id, kind, channel=row.channel, cell=row.cell,
                                         status=row.status))  # fmt: skip

    def action_cycle_state(self) -> None:
        i = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(i + 1) % len(STATE_FILTERS)]
        self._apply()

    def action_cycle_instrument(self) -> None:
        instruments = ["all", *sorted({r.instrument for r in self.rows})]
        i = (
            instruments.index(self.instrument_filter)
            if self.instrument_filter in instruments
            else 0
        )
        self.instrument_filter = instruments[(i + 1) % len(instruments)]
        self._apply()
