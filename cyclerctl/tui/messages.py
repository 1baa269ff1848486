"""What a screen asks of the app: messages that bubble up from a screen to ``CyclerApp``.

Textual's "attributes down, messages up" (https://textual.textualize.io/guide/widgets/
#data-flow): the app hands a screen what it reads when it builds it (the ``LabData``,
the session's ``read_only``, the ``WithOperator`` callable), and the screen tells the
app what the operator asked for by posting one of these; the app, the screen's parent,
handles it. So no screen imports ``cyclerctl.tui.app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from textual.message import Message

from cyclerctl.tui.data import ChannelRow

#: ``with_operator(then)`` calls ``then(operator)``, asking the name first if this
#: session has none yet (the app asks once per session)
WithOperator: TypeAlias = Callable[[Callable[[str], object]], None]


class OpenChannel(Message):
    """Show the channel's run: the one on the row, else the channel's latest."""

    def __init__(self, row: ChannelRow) -> None:
        super().__init__()
        self.row = row


class ShowRun(Message):
    """Show this run (None: the channel has none yet) in the detail screen."""

    def __init__(self, run_id: int | None, channel: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.channel = channel


class LaunchOnChannel(Message):
    """Open the launch form for the row's channel (refused when read-only or busy)."""

    def __init__(self, row: ChannelRow) -> None:
        super().__init__()
        self.row = row


class CommandRun(Message):
    """Pause, resume or stop a run, once the operator confirms (``kind``: "pause",
    "resume" or "stop")."""

    def __init__(
        self, run_id: int | None, kind: str, *, channel: str, cell: str | None, status: str | None
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.kind = kind
        self.channel = channel
        self.cell = cell
        self.status = status
