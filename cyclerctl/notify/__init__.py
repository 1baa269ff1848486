"""Notifications: the lab hears at once when a run stops, fails or loses its instrument.

``[[notify]]`` entries of the config (:mod:`~cyclerctl.notify.targets`) name Apprise URLs
and the events each wants; the daemon hands :class:`~cyclerctl.notify.message.Notice`\\ s to
a :class:`~cyclerctl.notify.dispatch.Notifier`, which sends them from its own thread,
grouped into bursts and retried with backoff (:mod:`~cyclerctl.notify.dispatch`), through
Apprise (:mod:`~cyclerctl.notify.send`). Nothing here imports the engine; the engine does
not import this package.
"""

from cyclerctl.notify.dispatch import Notifier, send_test
from cyclerctl.notify.message import Notice, compose
from cyclerctl.notify.send import AppriseSender, NotifyUnavailable
from cyclerctl.notify.targets import EVENTS, NotifyTarget

__all__ = [
    "EVENTS",
    "AppriseSender",
    "Notice",
    "Notifier",
    "NotifyTarget",
    "NotifyUnavailable",
    "compose",
    "send_test",
]
