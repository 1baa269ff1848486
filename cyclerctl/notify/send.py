"""Sending one message to one target, through Apprise.

Apprise (https://github.com/caronc/apprise, BSD-2-Clause) speaks e-mail, Slack, Teams,
Matrix, ntfy, JSON webhooks and ~100 other services through one URL each, so the lab
picks its channel in the config and we write no sender by hand. It is an optional extra
(``pip install 'cyclerctl[notify]'``); without it the daemon runs and says once, on one
line, that notifications are off.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

INSTALL_HINT = (
    "notifications need Apprise: pip install 'cyclerctl[notify]' (or pip install apprise)"
)


class NotifyUnavailable(RuntimeError):
    """Apprise is not installed."""


class Sender(Protocol):
    """Sends one message; returns None when it went out, else why not (one line)."""

    def send(self, url: str, title: str, body: str) -> str | None: ...


def load_apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise NotifyUnavailable(INSTALL_HINT) from None
    return apprise


class AppriseSender:
    """:class:`Sender` through Apprise: one ``Apprise`` object per URL, plain-text body.

    Apprise reports a failure only in its log; the log lines it writes while sending (at
    WARNING and above) become the reason. Its logger is kept out of the daemon's log: the
    reason is logged once, by the dispatcher, with the target's secrets as ``***``.
    """

    def __init__(self) -> None:
        self._apprise = load_apprise()
        logging.getLogger("apprise").propagate = False
        self._lock = threading.Lock()  # LogCapture attaches to Apprise's one logger

    def send(self, url: str, title: str, body: str) -> str | None:
        apprise = self._apprise
        target = apprise.Apprise()
        if not target.add(url):
            return "Apprise does not understand this URL (see https://appriseit.com/services/)"
        with self._lock, apprise.LogCapture(level=logging.WARNING) as captured:
            ok = target.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        if ok:
            return None
        lines = [line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if line]
        return "; ".join(lines) or "Apprise reported a failure"
