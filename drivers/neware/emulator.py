"""A BTS API server on the loopback that runs the simulator's cells: the driver's test peer.

It speaks the messages of ``messages`` (the same module builds both sides, so the shapes
cannot drift apart): ``connect``, ``getdevinfo``, ``getchlstatus``, ``start`` (reading the
step file from the path given, as BTS Client does), ``stop``, ``continue``, ``inquire`` (with
the latest test's barcode) and ``download`` (the latest test's records, or an earlier
test's by its id: a channel keeps every test, as BTS does). Channels are ``devid``/
``subdevid``/``chlid`` = 1/1/1…N, one per cell, each a ``SimChannel`` of a
``SimInstrument`` built from the same cells and seed, so a run through the emulator
measures the same cell, with the same noise, as a run on the simulator.

Virtual time (default): a channel's cell advances only when its records are downloaded,
until the ``count`` asked for exist or the step ends. Real time: a clock thread takes the
simulated channels' points every 0.1 s (the cells advance by wall time × speed).

As BTS: a request counts only once it ends with ``\n\n#\r\n`` (bytes a client leaves
without it are kept in :attr:`NewareEmulator.unframed`, for tests to fail on), every answer
ends with it too, and ``getdevinfo`` marks ``false`` a channel that is working (as the
captured BTS 8.0 answers show) or disabled (``disabled_channels``: it starts nothing).

Commissioning: ``dummy_load_ohm`` puts a resistor (``dummy.ResistorLoad``) on every
channel instead of a cell (``dummy_channels`` of them when no cells are given), and
``miscale="current_mA"`` reports the current in mA where BTS reports A, a deliberately
broken instrument for the commissioning check to catch.

Fault injection for tests: :meth:`NewareEmulator.drop_connection_after` closes the client's
socket instead of answering a later request, and can refuse new connections for a while;
:meth:`NewareEmulator.run_unwatched` lets a virtual-time channel go on measuring while no
client asks (a crashed host PC), so a test decides exactly how much the cycler did meanwhile.

Not a model of BTS Client's own quirks beyond those captured in ``messages``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cyclerctl.plan import CellSummary

from ..sim import SimInstrument
from . import messages
from .dummy import ResistorLoad
from .emulated_channel import EmulatedChannel, Physics
from .messages import ChannelAddress, FrameReader, Message, ProtocolError
from .stepfile import StepFileError, parse_stepfile

log = logging.getLogger(__name__)

CLIENT_VERSION = "cyclerctl BTS emulator"


class NewareEmulator:
    def __init__(
        self,
        cells: Sequence[CellSummary],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        virtual_time: bool = True,
        speed: float = 1.0,
        seed: int | None = None,
        sample_interval_s: float = 1.0,
        devid: int = 1,
        subdevid: int = 1,
        devtype: int = 27,
        username: str = "admin",
        password: str = "neware",
        tick_s: float = 0.1,
        dummy_load_ohm: float | None = None,
        dummy_channels: int = 1,
        miscale: str | None = None,
        disabled_channels: Sequence[str] = (),
    ) -> None:
        if not cells and dummy_load_ohm is None:
            raise ValueError("the emulator needs at least one cell (one per channel)")
        self.virtual_time = virtual_time
        self._credentials = (username, password)
        physics: list[Physics]
        if dummy_load_ohm is not None:
            # commissioning: a resistor on every channel instead of a cell
            physics = [
                ResistorLoad(
                    dummy_load_ohm,
                    sample_interval_s=sample_interval_s,
                    realtime=not virtual_time,
                    speed=speed,
                )
                for _ in range(len(cells) or dummy_channels)
            ]
        else:
            self._sim = SimInstrument(
                cells,
                seed=seed,
                sample_interval_s=sample_interval_s,
                realtime=not virtual_time,
                speed=speed,
                name="neware-emulator",
            )
            physics = list(self._sim.channels)
        self.channels = {
            (devid, subdevid, i + 1): EmulatedChannel(
                ChannelAddress(devid, subdevid, i + 1, devtype, host), sim, miscale=miscale
            )
            for i, sim in enumerate(physics)
        }
        for key in disabled_channels:
            d, sub, chl = (int(part) for part in key.split("-"))
            self.channels[(d, sub, chl)].disabled = True
        #: bytes clients sent that never made a whole request (no ``\n\n#\r\n``)
        self.unframed: list[bytes] = []
        self._lock = threading.Lock()  # the channels' state: handlers and the clock share it
        self._tests = 0
        self._closed = threading.Event()
        self._drop_after: int | None = None
        self._refuse_for_s = 0.0
        self._refuse_until = 0.0
        self._clients: set[socket.socket] = set()
        #: connections accepted; the channel states at each injected drop
        self.connections = 0
        self.drops: list[dict[str, str]] = []
        self.messages_handled = 0
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)
        self.host, self.port = self._server.getsockname()[:2]
        self._threads = [threading.Thread(target=self._accept, name="neware-emulator", daemon=True)]
        if not virtual_time:
            self._threads.append(threading.Thread(target=self._clock, args=(tick_s,), daemon=True))
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def drop_connection_after(self, n_messages: int, *, refuse_for_s: float = 0.0) -> None:
        """Answer ``n_messages`` more requests; act on the next but close the client's socket
        instead of answering it; then refuse (accept and close) connections for
        ``refuse_for_s``."""
        with self._lock:
            self._drop_after = n_messages
            self._refuse_for_s = refuse_for_s

    def run_unwatched(self, key: str, records: int) -> None:
        """Channel ``"dev-sub-chl"``: record ``records`` more records of its test (fewer when
        the step ends first), as the cycler does while no client is connected."""
        devid, subdevid, chlid = (int(part) for part in key.split("-"))
        with self._lock:
            channel = self.channels[(devid, subdevid, chlid)]
            if channel.status == "working":
                channel.ensure(len(channel.records) + records)

    def channel_state(self, key: str) -> tuple[str, int, int]:
        """Channel ``"dev-sub-chl"``: its status, test id and the records of that test."""
        devid, subdevid, chlid = (int(part) for part in key.split("-"))
        with self._lock:
            channel = self.channels[(devid, subdevid, chlid)]
            return channel.status, channel.testid, len(channel.records)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _close(client)
        for thread in self._threads:
            thread.join(timeout=5)

    # -- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if time.monotonic() < self._refuse_until:
                _close(client)
                continue
            with self._lock:
                self.connections += 1
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = FrameReader(strict=True)  # as BTS: a request ends with "\n\n#\r\n"
        try:
            while not self._closed.is_set():
                data = client.recv(65536)
                if not data:
                    return
                for request in reader.feed(data):
                    answer = self._answer(request)
                    if self._dropping():
                        return  # acted on, never answered: the hardest loss for a client
                    client.sendall(messages.frame(answer))
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(client)
                if reader.pending:
                    self.unframed.append(reader.leftover)
            _close(client)

    def _dropping(self) -> bool:
        with self._lock:
            if self._drop_after is None:
                return False
            if self._drop_after > 0:
                self._drop_after -= 1
                return False
            self._drop_after = None
            self._refuse_until = time.monotonic() + self._refuse_for_s
            self.drops.append({f"{k[0]}-{k[1]}-{k[2]}": c.status for k, c in self.channels.items()})
            return True

    def _clock(self, tick_s: float) -> None:
        while not self._closed.wait(tick_s):
            with self._lock:
                for channel in self.channels.values():
                    if channel.status == "working":
                        channel.pull()

    # -- answering -------------------------------------------------------------------------

    def _answer(self, data: bytes) -> str:
        try:
            message = messages.parse(data)
        except ProtocolError as exc:
            return messages.error_response("unknown", str(exc))
        handler = self._handlers().get(message.cmd)
        if handler is None:
            return messages.error_response(message.cmd or "unknown", "unknown command")
        with self._lock:
            self.messages_handled += 1
            try:
                return handler(message)
            except ProtocolError as exc:
                return messages.error_response(message.cmd, str(exc))

    def _handlers(self) -> dict[str, Callable[[Message], str]]:
        return {
            "connect": self._connect,
            "getdevinfo": self._getdevinfo,
            "getchlstatus": self._getchlstatus,
            "start": self._start,
            "stop": self._stop,
            "continue": self._continue,
            "inquire": self._inquire,
            "download": self._download,
        }

    def _channel(self, address: ChannelAddress) -> EmulatedChannel | None:
        return self.channels.get((address.devid, address.subdevid, address.chlid))

    def _connect(self, message: Message) -> str:
        given = (message.root.findtext("username"), message.root.findtext("password"))
        return messages.connect_response(given == self._credentials)

    def _getdevinfo(self, message: Message) -> str:
        # false: disabled, or running a test (as the captured BTS 8.0 answers show it)
        addresses = [c.address for c in self.channels.values()]
        free = [not c.disabled and c.status != "working" for c in self.channels.values()]
        return messages.getdevinfo_response(addresses, client_version=CLIENT_VERSION, free=free)

    def _getchlstatus(self, message: Message) -> str:
        answers = []
        for element in messages.listed(message, "status"):
            address = messages.address_of(element)
            channel = self._channel(address)
            answers.append((address, "false" if channel is None else channel.status))
        return messages.getchlstatus_response(answers)

    def _start(self, message: Message) -> str:
        answers = []
        for element in messages.listed(message, "start"):
            address = messages.address_of(element)
            channel = self._channel(address)
            path, barcode = (element.text or "").strip(), element.get("barcode", "")
            answers.append((address, self._start_one(channel, path, barcode)))
        return messages.per_channel_response("start", "start", answers)

    def _start_one(self, channel: EmulatedChannel | None, path: str, barcode: str) -> str:
        if channel is None or channel.disabled or channel.status == "working":
            return "false"
        try:
            file = parse_stepfile(Path(path).read_bytes())
            self._tests += 1
            channel.start(file, self._tests, barcode)
        except (OSError, StepFileError, ValueError) as exc:
            log.warning("emulator: cannot start %s: %s", path, exc)
            return "false"
        return "ok"

    def _stop(self, message: Message) -> str:
        answers = []
        for element in messages.listed(message, "stop"):
            address = messages.address_of(element)
            channel = self._channel(address)
            ok = channel is not None and channel.status == "working"
            if channel is not None and ok:
                channel.stop()
            answers.append((address, "ok" if ok else "false"))
        return messages.per_channel_response("stop", "stop", answers)

    def _continue(self, message: Message) -> str:
        # nothing here pauses a channel, so there is never anything to continue
        answers = [(messages.address_of(e), "false") for e in messages.listed(message, "continue")]
        return messages.per_channel_response("continue", "continue", answers)

    def _inquire(self, message: Message) -> str:
        answers: list[tuple[ChannelAddress, str, messages.RecordRow | None]] = []
        barcodes: list[str] = []
        for element in messages.listed(message, "inquire"):
            address = messages.address_of(element)
            channel = self._channel(address)
            if channel is None:
                answers.append((address, "false", None))
                barcodes.append("")
                continue
            if channel.status == "working":
                channel.pull()
            last = channel.records[-1] if channel.records else None
            answers.append((channel.address, channel.status, last))
            barcodes.append(channel.barcode if element.get("barcode") == "1" else "")
        return messages.inquire_response(answers, barcodes)

    def _download(self, message: Message) -> str:
        element = message.root.find("download")
        if element is None:
            raise ProtocolError("download without a <download> element")
        address = messages.address_of(element)
        testid = messages.int_attribute(element, "testid", 0)
        startpos = messages.int_attribute(element, "startpos", 1)
        count = min(messages.int_attribute(element, "count", 0), messages.MAX_DOWNLOAD)
        auxid = messages.int_attribute(element, "auxid", 0)
        channel = self._channel(address)
        records: list[messages.RecordRow] = []
        current = 0
        if channel is not None:
            current = channel.testid
            if testid in (0, current):
                if channel.status == "working":
                    if self.virtual_time:
                        channel.ensure(max(startpos, 1) - 1 + count)
                    else:
                        channel.pull()
                records = channel.window(startpos, count)
            elif testid in channel.earlier:  # an earlier test on this channel: ended, kept
                current = testid
                records = channel.window(startpos, count, testid)
        return messages.download_response(
            address,
            testid=current,
            startpos=startpos,
            count=count,
            auxid=auxid,
            records=records,
        )


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
