"""The overview's table: one row per channel, keyed by channel, updated cell by cell.

Narrow enough that at 80 columns everything up to the protocol shows: numbers in fixed
width, long protocol and cell names shortened (…); wider content scrolls sideways
(←/→) with the channel column kept in place.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import DataTable

from cyclerctl.tui.data import ChannelRow
from cyclerctl.tui.format import ATTENTION_STATES, duration, volts

#: (key, heading) in the order shown; the numbers a technician scans first come first
COLUMNS: tuple[tuple[str, str], ...] = (
    ("channel", "channel"),
    ("state", "state"),
    ("V", "V"),
    ("I", "I mA"),
    ("capacity", "mAh"),
    ("step", "stp/cy"),
    ("elapsed", "elapsed"),
    ("eta", "ETA"),
    ("protocol", "protocol"),
    ("cell", "cell"),
)
#: the longest protocol / cell name shown in full; longer ones end in …
NAME_WIDTH = 10
#: column widths fixed up front: a DataTable sizes auto columns from the cells it has when a
#: row is added, and an in-place update never widens them ("runni", a V of "-" while running)
WIDTHS: dict[str, int] = {
    "channel": 8,
    "state": 11,
    "V": 7,
    "I": 8,
    "capacity": 7,
    "step": 7,
    "elapsed": 8,
    "eta": 8,
    "protocol": NAME_WIDTH,
    "cell": NAME_WIDTH,
}


def fixed(value: float | None, scale: float = 1.0) -> str:
    """At most 4 decimals and 7 characters below 10⁴: ``0.5655``, ``-12.346``, ``1234.5``
    (no ``6.562e-07``: a sub-µA current on a mA scale shows as ``0.0000``)."""
    if value is None or not math.isfinite(value):
        return "-"
    x = value * scale
    size = abs(x)
    spec = ".4f" if size < 1 else ".3f" if size < 100 else ".1f" if size < 1e4 else ".3g"
    text = format(x, spec)
    return "0.0000" if text == "-0.0000" else text


def shorten(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


STATE_STYLES: dict[str, str] = {
    "running": "green",
    "paused": "yellow",
    "done": "cyan",
    "queued": "blue",
    "idle": "dim",
    **dict.fromkeys(ATTENTION_STATES, "bold white on red"),
}


def cells_of(row: ChannelRow) -> dict[str, str | Text]:
    """What each column shows for ``row``."""
    shown = row.run_id is not None and row.state not in ("idle", "queued", "offline")
    step = "-"
    if shown and row.step is not None:
        step = f"{row.step}/{row.cycle if row.cycle is not None else '-'}"
    state = row.state + (f" +{row.queued}" if row.queued and row.state != "queued" else "")
    if row.state == "queued":
        state = f"queued {row.queued}"
    return {
        "channel": row.channel,
        "state": Text(state, style=STATE_STYLES.get(row.state, "")),
        "V": volts(row.V) if shown else "-",
        "I": fixed(row.I, 1e3) if shown else "-",
        "capacity": fixed(row.capacity_Ah, 1e3) if shown else "-",
        "step": step,
        "elapsed": duration(row.elapsed_s) if shown else "-",
        "eta": duration(row.eta_s) if shown and row.active else "-",
        "protocol": shorten(row.protocol or "-") if shown else "-",
        "cell": shorten(row.cell or "-") if shown else "-",
    }


class ChannelTable(DataTable[str | Text]):
    """Give it rows with :meth:`show_rows`; it adds, updates in place and removes by
    channel, so a refresh never clears the table (no flicker, the cursor stays put)."""

    DEFAULT_CSS = """
    ChannelTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, fixed_columns=1)
        self._shown: dict[str, dict[str, str | Text]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=max(WIDTHS[key], len(label)))

    def show_rows(self, rows: list[ChannelRow]) -> None:
        wanted = {row.channel: cells_of(row) for row in rows}
        for channel in [c for c in self._shown if c not in wanted]:
            self.remove_row(channel)
            del self._shown[channel]
        for channel, cells in wanted.items():
            before = self._shown.get(channel)
            if before is None:
                self.add_row(*(cells[key] for key, _ in COLUMNS), key=channel)
            else:
                for key, _ in COLUMNS:
                    if before[key] != cells[key]:
                        self.update_cell(channel, key, cells[key])
            self._shown[channel] = cells
        # rows added later go to the end: keep the channel order the model gave
        if list(self._shown) != list(wanted):
            order = {channel: i for i, channel in enumerate(wanted)}
            self.sort("channel", key=lambda channel: order.get(str(channel), 0))
            self._shown = {channel: self._shown[channel] for channel in wanted}

    @property
    def selected_channel(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # no cursor yet
            return None
        return None if key.value is None else str(key.value)
