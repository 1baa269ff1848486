"""A wire-level emulator of a Keithley Series 2400 SourceMeter on TCP, with a simulated cell
(or a resistor) on its terminals.

It listens on TCP (``TCPIP::127.0.0.1::<port>::SOCKET`` for pyvisa), reads ``\\n``-terminated
program messages and hands each to the emulated instrument. The parts:

- :mod:`.parser` (the SCPI grammar), :mod:`.errors` (error codes and queue) and
  :mod:`.parameters` (parameter types, NR3 numbers): SCPI as the instrument reads it;
- :mod:`.emulated_2400`: the Series 2400 command set, settings and readings;
- :mod:`.cell_link`: the source settings as simulator steps on the cell behind the terminals;
- this module: the TCP server, the clock thread (real time), the fault hooks on connections.

Time (option ``virtual_time``): virtual — each reading of a :READ? advances the cell by one
sample interval (``sample_interval_s``, default 1 s), so a whole protocol runs through real
VISA bytes as fast as the machine allows. Real time — a background thread advances the cell
with the wall clock × ``speed``; :READ? returns the latest reading(s).

Not confirmed against the manual itself: the positive error codes' sign format.

Fault hooks for tests, on :class:`ScpiEmulator`: :meth:`~ScpiEmulator.garble_next` (the next
n replies arrive as line noise, or cut short), :meth:`~ScpiEmulator.silence_next` (the next
n queries are lost: not executed, not answered, so the client times out),
:meth:`~ScpiEmulator.refuse_next` (the next n commands are refused with an error code, read
back with ``:SYST:ERR?``), :meth:`~ScpiEmulator.drop_link` (every connection closed at once,
as when a LAN link or a serial-to-LAN bridge resets) and :meth:`~ScpiEmulator.go_offline` /
:meth:`~ScpiEmulator.come_back` (nothing listens: connections are refused). The instrument
behind keeps its state through all of them — its output stays on if it was on — as a real
SourceMeter does when only its link goes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from cyclerctl.plan import CellSummary

from ..sim import SimInstrument
from .cell_link import Cell, CellLink
from .emulated_2400 import Keithley2400Emulator
from .faults import WireFaults

log = logging.getLogger(__name__)

TICK_S = 0.02  # real time: how often the background thread advances the cell


# -- the TCP server --------------------------------------------------------------------------


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # answers go out at once, not after a delayed ACK
    server: _Server

    def handle(self) -> None:
        self.server.track(self.connection)
        emulator = self.server.emulator
        try:
            for raw in self.rfile:
                line = raw.decode("ascii", errors="replace").strip()
                if not line:
                    continue
                fault = emulator.take_fault(line)
                if fault == "silence":
                    continue
                if isinstance(fault, int):
                    emulator.instrument.refuse(fault)
                    continue
                reply = emulator.instrument.handle(line)
                if reply is None:
                    continue
                data = reply.encode("ascii")
                garble = emulator.take_garble()
                if garble == "junk":  # line noise: half a reply, bytes that are not ASCII
                    data = data[: len(data) // 2] + b"\xfe\x81#\x00"
                elif garble == "short":  # the reply's last field lost
                    data = data.rpartition(b",")[0] or data[: len(data) // 2]
                self.wfile.write(data + b"\n")
        except (ConnectionError, OSError):
            pass  # the client went away
        finally:
            self.server.untrack(self.connection)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: ScpiEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._guard:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._guard:
            self._connections.discard(connection)

    def drop_all(self) -> int:
        """Shut every open connection down; how many there were."""
        with self._guard:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)
            return len(self._connections)


class ScpiEmulator(WireFaults):
    """A Series 2400 SourceMeter on ``host:port`` (0: a free port), one simulated cell on it.

    ``options``: ``virtual_time`` (default False), ``speed`` (real time, default 1),
    ``seed``, ``sample_interval_s`` (default 1 s), ``model`` (default "2400"), and for
    commissioning ``miscale`` (as the keyword argument, which wins): a deliberately broken
    instrument, ``"current_mA"`` reporting its current in mA where A is expected. A dummy
    load on the terminals is a cell like any other: the simulator's ``dummy`` model
    (``drivers.sim.dummy.dummy_cell``).
    """

    def __init__(
        self,
        cells: Sequence[CellSummary],
        host: str = "127.0.0.1",
        port: int = 0,
        options: Mapping[str, Any] | None = None,
        *,
        miscale: str | None = None,
    ) -> None:
        options = dict(options or {})
        WireFaults.__init__(self)
        self.dropped = 0  # connections closed by drop_link / go_offline
        if miscale is None and options.get("miscale"):
            miscale = str(options["miscale"])
        if len(cells) != 1:
            raise ValueError(
                f"a SourceMeter has one channel: give one cell, not {len(cells)} "
                "(start one emulator per cell)"
            )
        virtual = bool(options.get("virtual_time", False))
        seed = options.get("seed")
        speed = float(options.get("speed") or 1.0)
        sample_interval_s = float(options.get("sample_interval_s", 1.0))
        cell: Cell = SimInstrument(
            cells,
            seed=None if seed is None else int(seed),
            sample_interval_s=sample_interval_s,
            realtime=not virtual,
            speed=speed,
            name="smu",
            native_end_conditions=frozenset(),
            chamber=False,
        ).channels[0]
        link = CellLink(cell, virtual_time=virtual, speed=speed)
        self.instrument = Keithley2400Emulator(
            link, model=str(options.get("model", "2400")), miscale=miscale
        )
        self._server: _Server | None = _Server((host or "127.0.0.1", port), self)
        bound = self._server.socket.getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        self._closed = threading.Event()
        self._threads = [self._serving(self._server)]
        if not virtual:
            self._threads.append(
                threading.Thread(target=self._tick, name="scpi-emulator-clock", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def _serving(self, server: _Server) -> threading.Thread:
        return threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scpi-emulator",
            daemon=True,
        )

    # -- fault hooks on the connection (those on messages: WireFaults) ----------------------

    def drop_link(self) -> None:
        """Close every connection now; new ones are accepted (the instrument keeps its state)."""
        if self._server is not None:
            self.dropped += self._server.drop_all()

    def go_offline(self) -> None:
        """Close every connection and stop listening: connecting is refused until
        :meth:`come_back`. The instrument keeps its state (its output stays as it was)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self.dropped += server.drop_all()
        server.server_close()

    def come_back(self) -> None:
        """Listen again on the same port."""
        if self._server is not None or self._closed.is_set():
            return
        self._server = _Server((self.host, self.port), self)
        thread = self._serving(self._server)
        self._threads.append(thread)
        thread.start()

    def _tick(self) -> None:
        while not self._closed.wait(TICK_S):
            try:
                self.instrument.tick()
            except Exception:  # keep serving; the next :READ? reports what is wrong
                log.exception("emulated SMU: the simulated cell failed")

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.go_offline()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ScpiEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
