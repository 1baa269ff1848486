"""The Textual app: screens, the operator's session, and ``run_tui`` for ``cyclerctl tui``.

The app builds each screen with what it reads (the LabData, ``read_only``, ``with_operator``)
and handles what a screen asks for as a message from ``cyclerctl.tui.messages``; no screen
imports this module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from sqlalchemy import make_url
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from cyclerctl.config import Config, ConfigError, default_operator, load_config
from cyclerctl.config import database_url as resolve_database_url
from cyclerctl.store import Store
from cyclerctl.tui.data import LabData
from cyclerctl.tui.messages import CommandRun, LaunchOnChannel, OpenChannel, ShowRun
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.history import HistoryScreen
from cyclerctl.tui.screens.launch import LaunchScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.screens.polling import describe_failure
from cyclerctl.tui.widgets.dialogs import ConfirmScreen, OperatorScreen

_VERB = {"pause": "Pause", "resume": "Resume", "stop": "Stop"}


class CyclerApp(App[int]):
    TITLE = "cyclerctl"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "quit", show=False)]

    def __init__(self, lab: LabData, *, read_only: bool = False, operator_hint: str = "") -> None:
        super().__init__()
        self.lab = lab
        self.read_only = read_only
        self.operator_hint = operator_hint
        self.operator: str | None = None  # asked once per session
        self._detail: DetailScreen | None = None

    def on_mount(self) -> None:
        self.install_screen(OverviewScreen(self.lab, read_only=self.read_only), name="overview")
        self.install_screen(HistoryScreen(self.lab), name="history")
        self.push_screen("overview")

    # -- the operator -----------------------------------------------------------------------

    def with_operator(self, then: Callable[[str], object]) -> None:
        """Call ``then(operator)``, asking the name first if this session has none yet."""
        if self.operator is not None:
            then(self.operator)
            return

        def answered(name: str | None) -> None:
            if name:
                self.operator = name
                then(name)

        self.push_screen(OperatorScreen(self.operator_hint), answered)

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.notify("read-only session (--read-only): no launch, pause or stop",
                        severity="warning")  # fmt: skip
        return self.read_only

    # -- what the screens ask for (messages.py) ---------------------------------------------

    def on_open_channel(self, message: OpenChannel) -> None:
        self._open_latest(message.row.channel, message.row.run_id)

    @work(thread=True, group="open")
    def _open_latest(self, channel: str, run_id: int | None) -> None:
        if run_id is None:
            try:
                run_id = self.lab.latest_run_on(channel)
            except Exception as exc:  # the database is gone or locked: say so, keep running
                self.call_from_thread(self.notify, f"{channel}: {describe_failure(exc)}",
                                      severity="error")  # fmt: skip
                return
        self.call_from_thread(self.show_run, run_id, channel)

    def on_show_run(self, message: ShowRun) -> None:
        self.show_run(message.run_id, message.channel)

    def show_run(self, run_id: int | None, channel: str) -> None:
        """Push the run's detail: one DetailScreen, installed once and reused (see
        DetailScreen.load)."""
        screen = self._detail
        if screen is None:
            screen = self._detail = DetailScreen(self.lab, run_id, channel)
            self.install_screen(screen, name="detail")
        else:
            screen.load(run_id, channel)
        self.push_screen(screen)

    def on_launch_on_channel(self, message: LaunchOnChannel) -> None:
        row = message.row
        if self._refuse_read_only():
            return
        if row.active or row.state == "offline":
            self.notify(f"{row.channel} is {row.state}: launch on an idle channel",
                        severity="warning")  # fmt: skip
            return
        self.push_screen(LaunchScreen(row.channel, self.lab, read_only=self.read_only,
                                      with_operator=self.with_operator))  # fmt: skip

    def on_command_run(self, message: CommandRun) -> None:
        """Pause/resume/stop after a confirmation that names the cell and the channel."""
        run_id, kind, channel = message.run_id, message.kind, message.channel
        cell, status = message.cell, message.status
        if self._refuse_read_only():
            return
        if run_id is None or status not in ("running", "paused", "queued"):
            self.notify(f"{channel}: no run to {kind}", severity="warning")
            return
        question = f"{_VERB[kind]} run {run_id} of cell {cell or '?'} on channel {channel}?"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.with_operator(lambda operator: self._issue(run_id, kind, operator))

        self.push_screen(ConfirmScreen(question, _VERB[kind]), confirmed)

    @work(thread=True, group="command")
    def _issue(self, run_id: int, kind: str, operator: str) -> None:
        try:
            command_id = self.lab.command(run_id, kind, operator=operator)
        except (KeyError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            self.call_from_thread(self.notify, f"{kind}: {message}", severity="error")
            return
        except Exception as exc:  # the database: the command was not recorded, say so
            self.call_from_thread(self.notify, f"{kind} NOT sent: {describe_failure(exc)}",
                                  severity="error")  # fmt: skip
            return
        self.call_from_thread(
            self.notify, f"run {run_id}: {kind} sent (command {command_id}, {operator})"
        )


def read_only_url(db_url: str) -> str:
    """The URL opened so that the database itself refuses writes: SQLite ``mode=ro``
    (the file must exist: nothing is created), PostgreSQL read-only transactions."""
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return db_url  # in memory there is nothing to protect; a URI is taken as given
        path = Path(database).expanduser().resolve()
        uri = f"file:{quote(str(path))}?mode=ro"
        return url.set(database=uri, query={**url.query, "uri": "true"}).render_as_string(
            hide_password=False
        )
    if backend == "postgresql":
        options = "-c default_transaction_read_only=on"
        if "options" in url.query:
            options = f"{url.query['options']} {options}"
        return url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    return db_url


def make_app(db_url: str, config: Config, *, read_only: bool = False) -> CyclerApp:
    store = Store.open(read_only_url(db_url) if read_only else db_url)
    return CyclerApp(
        LabData(store, config),
        read_only=read_only,
        operator_hint=default_operator(None, config),
    )


def run_tui(db_url: str | None, config_path: str | None, read_only: bool) -> int:
    """``cyclerctl tui``: 0 on a normal quit, 2 on a bad config or database."""
    from cyclerctl.credentials import CredentialError, shown

    try:
        config = load_config(config_path)
        url = resolve_database_url(db_url, config)
    except (ConfigError, CredentialError) as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        app = make_app(url, config, read_only=read_only)
    except Exception as exc:  # SQLAlchemy's errors for a bad URL or an unreadable file
        print(f"--db: cannot open database {shown(url)!r}: {exc}", file=sys.stderr)
        return 2
    try:
        app.run()
    finally:
        app.lab.store.close()
    return 0
