"""A scripted BTS server on the loopback: expected request bytes → canned answer bytes.

PyMeasure-style replay: each request the driver sends must equal the next expected one,
byte for byte; the answer (or ``DROP``, which closes the connection unanswered, the next
connection carrying on with the script) goes back. :meth:`ScriptedPeer.finish` fails on
a mismatch, on script left unplayed, and on any byte the driver sent beyond the script.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

TERMINATOR = b"\n\n#\r\n"  # as every public client ends a request, and BTS an answer
DROP = None


class ScriptedPeer:
    def __init__(self, script: list[tuple[bytes, bytes | None]]) -> None:
        self.script = list(script)
        self.played = 0
        self.errors: list[str] = []
        self.extra = b""
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with client:
                if self._serve(client) == "stop":
                    return

    def _serve(self, client: socket.socket) -> str:
        client.settimeout(0.1)
        buffer = b""
        while not self._stop.is_set():
            end = buffer.find(TERMINATOR)
            if end < 0:
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return "closed"
                buffer += data
                continue
            request, buffer = buffer[: end + len(TERMINATOR)], buffer[end + len(TERMINATOR) :]
            if self.played >= len(self.script):
                self.extra += request
                continue
            expected, answer = self.script[self.played]
            if request != expected:
                self.errors.append(
                    f"request {self.played + 1}:\n expected {expected!r}\n got      {request!r}"
                )
                return "stop"
            self.played += 1
            if answer is DROP:
                return "dropped"
            client.sendall(answer)
        self.extra += buffer
        return "stop"

    def finish(self) -> None:
        time.sleep(0.2)  # anything sent after the script is over arrives by now
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._server.close()
        assert not self.errors, "\n".join(self.errors)
        assert self.played == len(self.script), (
            f"{len(self.script) - self.played} scripted requests never came; the next: "
            f"{self.script[self.played][0]!r}"
        )
        assert not self.extra, f"requests beyond the script: {self.extra!r}"


@contextlib.contextmanager
def replay(script: list[tuple[bytes, bytes | None]]) -> Iterator[ScriptedPeer]:
    """A scripted peer, checked on the way out; a driver error shows the mismatch behind it."""
    peer = ScriptedPeer(script)
    try:
        yield peer
    except Exception as exc:
        if peer.errors:
            raise AssertionError("\n".join(peer.errors)) from exc
        raise
    peer.finish()
