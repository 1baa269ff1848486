"""The one TCP connection to a BTS API server, owned by one lock, reconnecting on loss.

BTS answers one question at a time, so every exchange (send a document, read its answer)
happens under the link's lock: channels of one instrument driven from several threads share
the socket safely. A lost connection (closed socket, timeout, refused) is retried with a
fresh connection and a new ``connect`` login, waiting 0.2 s, then twice as long each time up
to 5 s, a bounded number of times; after that a ConnectionError names the instrument and
the last fault, so a dead cycler fails the run instead of hanging it.

Replaying a request after a reconnect is safe for reads (``download`` asks by sequence
number, so nothing is lost or doubled); the channel handles ``start`` and ``stop``, whose
answer may have been lost after the cycler acted on them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

from ..base import InstrumentFault
from . import messages
from .messages import FrameReader, Message, ProtocolError

log = logging.getLogger(__name__)


class LinkLost(InstrumentFault, ConnectionError):
    """The BTS server did not answer through every retry. The cycler itself goes on running
    the step on board (its own limits hold the cell), so the engine waits and reads on."""


class LoginRefused(RuntimeError):
    """The BTS server answered ``connect`` with anything but ok: retrying will not help."""


class Link:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "admin",
        password: str = "neware",
        timeout_s: float = 30.0,
        retries: int = 6,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if timeout_s <= 0 or retries < 0 or retry_initial_s < 0 or retry_max_s < retry_initial_s:
            raise ValueError("timeout must be > 0, retries ≥ 0, 0 ≤ initial ≤ max backoff")
        self.host, self.port = host, port
        self._username, self._password = username, password
        self._timeout = timeout_s
        self._retries = retries
        self._initial, self._max = retry_initial_s, retry_max_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader = FrameReader()
        #: connections opened, and how many of them replaced a lost one
        self.connections = 0
        self.reconnects = 0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def transact(self, request: str) -> Message:
        """Send one document and return its answer, reconnecting as needed."""
        with self._lock:
            delay = self._initial
            started = time.monotonic()
            last: Exception | None = None
            for attempt in range(self._retries + 1):
                try:
                    if self._sock is None:
                        self._open(replacing=last is not None)
                    return self._exchange(request)
                except ProtocolError:
                    self._drop()  # the stream is out of step: never read its rest as an answer
                    raise
                except OSError as exc:  # closed, reset, refused, timed out
                    last = exc
                    self._drop()
                    if attempt == self._retries:
                        break
                    log.warning(
                        "neware %s: %s; reconnecting in %.1f s", self.where, _describe(exc), delay
                    )
                    self._sleep(delay)
                    delay = min(delay * 2 or self._initial, self._max)
            raise LinkLost(
                f"neware {self.where}",
                _command_of(request),
                f"no answer after {self._retries + 1} tries over "
                f"{time.monotonic() - started:.1f} s (last: {_describe(last)})",
                link_lost=True,
            )

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- inside the lock -------------------------------------------------------------------

    def _open(self, *, replacing: bool) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self._timeout)
        sock.settimeout(self._timeout)
        self._sock, self._reader = sock, FrameReader()
        self.connections += 1
        if replacing:
            self.reconnects += 1
        answer = self._exchange(messages.connect_request(self._username, self._password))
        if not messages.connect_ok(answer):
            self._drop()
            raise LoginRefused(
                f"neware {self.where}: the BTS server refused user {self._username!r} "
                "(check the API is activated and the user/password)"
            )

    def _exchange(self, request: str) -> Message:
        sock = self._sock
        assert sock is not None
        sock.sendall(messages.frame(request))
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionResetError("the BTS server closed the connection")
            frames = self._reader.feed(data)
            if frames:
                if len(frames) > 1 or self._reader.pending:
                    raise ProtocolError(f"{len(frames)} answers to one request")
                return messages.parse(frames[0])

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "nothing"


def _command_of(request: str) -> str:
    """The ``<cmd>`` of a request document, for messages ("inquire", "download", …)."""
    start = request.find("<cmd>")
    end = request.find("</cmd>", start)
    return request[start + 5 : end] if 0 <= start < end else "request"
