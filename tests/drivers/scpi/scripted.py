"""A scripted instrument on a loopback socket: the exact lines the driver must send, and
what the instrument answers to each (PyMeasure's ``expected_protocol``, over real VISA).

The peer compares every line the driver writes with the next expected one. At the end of
the ``with`` block (the driver closed) it fails the test on any difference, on expected lines
never sent, and on lines sent beyond the script.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

NO_ERROR = '0,"No error"'
IDN_2400 = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C30   Mar 17 2006 09:29:29/A02  /K/J"

Exchange = tuple[str, str | None]  # (line the driver sends, line the instrument answers)


def configured(*commands: str) -> list[Exchange]:
    """Configuration commands as the driver sends them: each followed by :SYST:ERR?."""
    return [pair for c in commands for pair in ((c, None), (":SYST:ERR?", NO_ERROR))]


#: Everything :meth:`SourceMeterInstrument.connect` says with trigger count ``n``.
def connect_script(n: int = 1, idn: str = IDN_2400) -> list[Exchange]:
    return [
        ("*IDN?", idn),
        *configured(
            "*CLS",
            "*RST",
            ":OUTP:SMOD HIMP",
            ":OUTP OFF",
            ":SENS:FUNC:CONC ON",
            ':SENS:FUNC:ON "VOLT","CURR"',
            ":SENS:VOLT:RANG:AUTO ON",
            ":SENS:CURR:RANG:AUTO ON",
            ":SOUR:CURR:RANG:AUTO ON",
            ":SOUR:VOLT:RANG:AUTO ON",
            ":FORM:ELEM VOLT,CURR,TIME,STAT",
            f":TRIG:COUN {n}",
        ),
    ]


class ScriptedPeer:
    def __init__(self, script: Sequence[Exchange], *, accept_timeout_s: float = 10.0) -> None:
        self.script = list(script)
        self.received: list[str] = []
        self.problems: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(accept_timeout_s)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError as exc:
            self.problems.append(f"the driver never connected ({exc})")
            return
        with connection, connection.makefile("rb") as lines:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for raw in lines:
                line = raw.decode("ascii").rstrip("\r\n")
                index = len(self.received)
                self.received.append(line)
                if index >= len(self.script):
                    self.problems.append(f"unexpected line {index + 1} sent: {line!r}")
                    continue
                expected, reply = self.script[index]
                if line != expected:
                    self.problems.append(f"line {index + 1}: expected {expected!r}, got {line!r}")
                    return  # hang up: the driver's next read fails
                if reply is not None:
                    connection.sendall(reply.encode("ascii") + b"\n")

    def verify(self) -> None:
        """Wait for the driver to hang up, then fail on any difference or leftover."""
        self._thread.join(timeout=10)
        self._listener.close()
        if self._thread.is_alive():
            self.problems.append("the driver never closed the connection")
        unsent = self.script[len(self.received) :]
        if unsent and not any("expected" in p for p in self.problems):
            self.problems.append(f"expected lines never sent: {[line for line, _ in unsent]}")
        if self.problems:
            raise AssertionError("exchange differs from the script:\n" + "\n".join(self.problems))

    def __enter__(self) -> ScriptedPeer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.verify()
            return
        # the test failed already; add what the peer saw, if it saw something wrong
        self._listener.close()
        if self.problems:
            raise AssertionError("exchange differs from the script:\n" + "\n".join(self.problems))
