"""The overview's table: one row per channel, keyed by channel, updated cell by cell.

Narrow enough that at 80 columns everything up to the protocol shows: numbers in fixed
width, long protocol and cell names shortened (…); wider content scrolls sideways
(←/→) with the channel column kept in place.
"""

from __future__ import annotations

import functools
import math

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

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
    "state": 14,  # "safety V>4.45V": a safety stop shows the limit it broke
    "V": 7,
    "I": 7,
    "capacity": 7,
    "step": 7,
    "elapsed": 7,
    "eta": 7,
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


@functools.lru_cache(maxsize=256)
def state_text(shown: str, state: str) -> Text:
    """The styled state cell; shared between rows and frames (DataTable never changes a
    Text it is given), so a refresh builds no Rich object for an unchanged state."""
    return Text(shown, style=STATE_STYLES.get(state, ""))


def cells_of(row: ChannelRow) -> dict[str, str | Text]:
    """What each column shows for ``row``."""
    shown = row.run_id is not None and row.state not in ("idle", "queued", "offline")
    step = "-"
    if shown and row.step is not None:
        step = f"{row.step}/{row.cycle if row.cycle is not None else '-'}"
    state = row.state + (f" +{row.queued}" if row.queued and row.state != "queued" else "")
    if row.state == "queued":
        state = f"queued {row.queued}"
    if row.alarm is not None:  # unmistakable: the limit, not just "safety stop"
        state = f"safety {row.alarm.replace(' ', '')}"
    return {
        "channel": row.channel,
        "state": state_text(state, row.state),
        "V": volts(row.V) if shown else "-",
        "I": fixed(row.I, 1e3) if shown else "-",
        "capacity": fixed(row.capacity_Ah, 1e3) if shown else "-",
        "step": step,
        "elapsed": duration(row.elapsed_s) if shown else "-",
        "eta": duration(row.eta_s) if shown and row.active else "-",
        "protocol": shorten(row.protocol or "-") if shown else "-",
        "cell": shorten(row.cell or "-") if shown else "-",
    }


#: more channels than this appearing or disappearing at once: refill the table instead
REFILL_AFTER = 16

#: a rendered cell: one list of segments per line
_CellLines = list[list[Segment]]


def _value_key(value: str | Text) -> object:
    """A hashable stand-in for a cell's value (a Text is unhashable)."""
    return value if isinstance(value, str) else (value.plain, str(value.style), len(value.spans))


def _is_plain(value: str | Text, room: int) -> bool:
    """A value DataTable renders as its own characters, one cell each, uncut: printable
    ASCII, no markup, fits ``room``."""
    return (
        isinstance(value, str)
        and len(value) <= room
        and value.isascii()
        and value.isprintable()
        and "[" not in value
    )


def _single_style(lines: _CellLines, width: int) -> Style | None:
    """The style of a rendered cell that is one line in one style, ``width`` wide."""
    if len(lines) != 1 or not lines[0]:
        return None
    styles = {segment.style for segment in lines[0]}
    if len(styles) != 1 or any(segment.control for segment in lines[0]):
        return None
    if sum(len(segment.text) for segment in lines[0]) != width:
        return None
    (style,) = styles
    return style


class ChannelTable(DataTable[str | Text]):
    """Give it rows with :meth:`show_rows`; it adds, updates in place and removes by
    channel, so a refresh never clears the table (no flicker, the cursor stays put).

    Rendered cells are cached by their value: DataTable keys its own cell cache on a
    table-wide update counter, so changing one V re-renders every visible cell through
    Rich (~0.1 ms each, ~50 ms a frame at 48 rows); here only the changed cells are, and a
    changed number is built directly as one segment in the style DataTable itself used for
    that cell's previous number (tests.tui.test_table checks both give the same screen).
    """

    DEFAULT_CSS = """
    ChannelTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # before DataTable's __init__: setting its reactives notifies style updates
        self._cells_by_value: LRUCache[tuple[object, ...], _CellLines] = LRUCache(8192)
        #: per cell position and look: the one style DataTable rendered a plain value in
        self._plain_styles: LRUCache[tuple[object, ...], Style] = LRUCache(8192)
        self.cells_built_directly = 0  # cells painted without Rich (tests check it runs)
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, fixed_columns=1)
        self._shown: dict[str, dict[str, str | Text]] = {}

    # -- rendering: DataTable's cell hook, cached by value ---------------------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> _CellLines:
        if row_index < 0 or column_index < 0:  # the header and row labels: as DataTable does
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        channel = self._row_locations.get_key(row_index)
        column = self._column_locations.get_key(column_index)
        shown = None if channel is None else self._shown.get(str(channel.value))
        if shown is None or column is None or column.value not in shown:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = shown[str(column.value)]
        context = (
            row_index,  # the segments carry the row and column for mouse clicks
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.cell_padding,
        )
        # everything a cell's look depends on is in the key, so the cache outlives
        # DataTable's own (cleared on every row added or removed); only a new theme or
        # stylesheet (notify_style_update) empties it
        key = (_value_key(value), *context)
        lines = self._cells_by_value.get(key)
        if lines is not None:
            return lines
        style = self._plain_styles.get(context)
        if style is not None and _is_plain(value, width - 2 * self.cell_padding):
            # a number never seen before: the cell DataTable would render, built directly
            # from the style it used for this cell's previous plain value
            assert isinstance(value, str)
            pad = " " * self.cell_padding
            text = pad + value.ljust(width - 2 * self.cell_padding) + pad
            lines = [[Segment(text, style)]]
            self.cells_built_directly += 1
        else:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            if _is_plain(value, width - 2 * self.cell_padding):
                learned = _single_style(lines, width)
                if learned is not None:
                    self._plain_styles[context] = learned
        self._cells_by_value[key] = lines
        return lines

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cells_by_value.clear()
        self._plain_styles.clear()

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=max(WIDTHS[key], len(label)))

    def show_rows(self, rows: list[ChannelRow]) -> None:
        wanted = {row.channel: cells_of(row) for row in rows}
        coming_or_going = sum(c not in wanted for c in self._shown) + sum(
            c not in self._shown for c in wanted
        )
        if coming_or_going > REFILL_AFTER:
            self._refill(wanted)
            return
        for channel in [c for c in self._shown if c not in wanted]:
            self.remove_row(channel)
            del self._shown[channel]
        changed: list[tuple[str, str, str | Text]] = []
        for channel, cells in wanted.items():
            before = self._shown.get(channel)
            if before is None:
                self.add_row(*(cells[key] for key, _ in COLUMNS), key=channel)
            else:
                changed.extend((channel, key, cells[key]) for key, _ in COLUMNS
                               if before[key] != cells[key])  # fmt: skip
            self._shown[channel] = cells
        self._update_cells(changed)
        # rows added later go to the end: keep the channel order the model gave
        if list(self._shown) != list(wanted):
            order = {channel: i for i, channel in enumerate(wanted)}
            self.sort("channel", key=lambda channel: order.get(str(channel), 0))
            self._shown = {channel: self._shown[channel] for channel in wanted}

    def _refill(self, wanted: dict[str, dict[str, str | Text]]) -> None:
        """Empty the table and fill it in order, the cursor kept on its channel: a filter
        that hides or shows many channels at once (removing rows one by one re-indexes
        the table each time: 256 rows took 0.3 s, a key that felt stuck)."""
        selected = self.selected_channel
        self.clear()
        self._append_rows(wanted)
        self._shown = dict(wanted)
        if selected in wanted:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _append_rows(self, wanted: dict[str, dict[str, str | Text]]) -> None:
        """``add_row`` for many rows at once, with what add_row does that a table of
        fixed-width, one-line columns needs. add_row costs ~0.2 ms a row here, and each
        new row is then measured cell by cell on the next idle (Rich ``measure`` of 11
        cells, only useful for auto-width columns): with 256 channels the filter's way
        back to "all" held the UI thread 40-100 ms (py-spy/pyinstrument: DataTable.add_row
        and DataTable._on_idle → _update_dimensions), and a key pressed then waited."""
        if not wanted:
            return
        keys = [column.key for column in self.ordered_columns]
        locations, data, rows = self._row_locations, self._data, self.rows
        first = self.row_count
        for index, (channel, cells) in enumerate(wanted.items(), start=first):
            row_key = RowKey(channel)
            locations[row_key] = index
            data[row_key] = {key: cells[str(key.value)] for key in keys}
            rows[row_key] = Row(row_key, 1, None, False)
        # what add_row does once per row, done once: the next idle recomputes the virtual
        # size (no new row to measure), the cursor is re-validated, the table repainted
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if first == 0 and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()
        self.refresh()

    def _update_cells(self, changed: list[tuple[str, str, str | Text]]) -> None:
        """``update_cell`` for many cells with one refresh: update_cell repaints the
        whole table on each call (~10 µs each, 768 calls when 256 channels move)."""
        if not changed:
            return
        data = self._data
        for channel, column, value in changed:
            data[RowKey(channel)][ColumnKey(column)] = value
        self._update_count += 1
        self.refresh()

    @property
    def selected_channel(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # no cursor yet
            return None
        return None if key.value is None else str(key.value)
