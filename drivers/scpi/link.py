"""The SourceMeter's link: the VISA resource as the command set sees it, and reconnection
with a bounded backoff after the link is lost (see :mod:`.driver`, "Faults")."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pyvisa
from pyvisa.resources import MessageBasedResource

from ..base import InstrumentFault
from .keithley import Keithley2400

log = logging.getLogger(__name__)

RECONNECT_BACKOFF_S = 0.2
RECONNECT_BACKOFF_MAX_S = 5.0
#: what the wire raises when the link is gone or silent (pyvisa-py lets socket errors through)
LINK_ERRORS: tuple[type[Exception], ...] = (pyvisa.errors.VisaIOError, OSError)


class Wire:
    """The VISA resource as :class:`Keithley2400` sees it, remembering the command in
    flight so that a fault can name it."""

    def __init__(self, resource: MessageBasedResource) -> None:
        self.resource = resource
        self.command = ""

    def write(self, message: str) -> object:
        self.command = message
        return self.resource.write(message)

    def query(self, message: str) -> str:
        self.command = message
        return self.resource.query(message)


class Link:
    """Reconnection with a bounded backoff: one attempt per call, spaced out in time."""

    def __init__(
        self,
        reopen: Callable[[], Keithley2400],
        *,
        backoff_s: float = RECONNECT_BACKOFF_S,
        backoff_max_s: float = RECONNECT_BACKOFF_MAX_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reopen = reopen
        self._first = backoff_s
        self._max = backoff_max_s
        self._clock = clock
        self.lost_since: float | None = None
        self.cause = ""
        self._next_attempt = 0.0
        self._backoff = backoff_s
        self.attempts = 0
        self.last_failure = ""  # why the latest attempt failed

    @property
    def lost(self) -> bool:
        return self.lost_since is not None

    def lose(self, cause: str) -> None:
        if self.lost_since is None:
            self.lost_since = self._clock()
            self.cause = cause
            self._next_attempt = self.lost_since  # the first attempt may come at once
            self._backoff = self._first
            self.last_failure = ""

    def restore(self, name: str) -> Keithley2400:
        """The instrument, reconnected and configured with the output off; or a fault."""
        now = self._clock()
        down = 0.0 if self.lost_since is None else now - self.lost_since
        if now < self._next_attempt:
            raise InstrumentFault(
                name,
                "reconnect",
                f"link lost {down:.1f} s ago ({self.cause}); attempt {self.attempts} failed: "
                f"{self.last_failure}; next attempt in {self._next_attempt - now:.1f} s",
                link_lost=True,
            )
        self.attempts += 1
        try:
            smu = self._reopen()
        except Exception as exc:
            self._next_attempt = self._clock() + self._backoff
            self._backoff = min(2 * self._backoff, self._max)
            self.last_failure = describe(exc)
            raise InstrumentFault(
                name,
                "reconnect",
                f"link lost {down:.1f} s ago ({self.cause}); attempt {self.attempts} failed: "
                f"{self.last_failure}",
                link_lost=True,
            ) from exc
        log.warning("%s: link back after %.1f s (%d attempt(s))", name, down, self.attempts)
        self.lost_since = None
        self.attempts = 0
        return smu


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
