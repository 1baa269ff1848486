"""A temperature chamber with an ESPEC controller, over a serial line (RS-232C or RS-485).

The engine sets the chamber and reads it (``cyclerctl.drivers.base.Chamber``); this driver
turns that into the controller's commands (``protocol.py``). One pyserial port, owned by one
lock: a command and its reply, retry included, are never interleaved with another's.

A reply that is garbled (cut short, not ASCII, not the shape the command answers) or that
does not come within the timeout is asked for once more; a second failure raises
:class:`ChamberError` naming the port and the command. A refusal (``NA:``) is an answer,
not a line fault: it is raised at once as :class:`ChamberRefused`.

A port that fails twice (a USB-serial adapter unplugged, the pseudo-terminal gone) is a lost
link (:attr:`ChamberError.link_lost`): the port is closed, and each later call tries to open
it again — at most one attempt per call, spaced by a backoff that doubles from
``reconnect_backoff_s`` (0.5 s) to ``reconnect_backoff_max_s`` (10 s) — asks ``ROM?``, and
goes on; until then the call raises at once. Every fault is a
:class:`~cyclerctl.drivers.base.InstrumentFault` naming the port and the command.

Closing releases the port only: the chamber keeps its last set point, as ESPEC chambers do
when the PC goes away. Not run against a real chamber.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Protocol, TypeVar

from ..base import ChamberReading, Identity, InstrumentFault
from . import protocol

ZERO_CELSIUS_K = 273.15
T = TypeVar("T")

try:  # pyserial on POSIX lets termios.error through (e.g. the other end of a pty is gone)
    from termios import error as _TermiosError

    PORT_ERRORS: tuple[type[Exception], ...] = (OSError, _TermiosError)
except ImportError:  # Windows
    PORT_ERRORS = (OSError,)


class Transport(Protocol):
    """What the driver needs of a ``serial.Serial`` (a scripted fake in the replay tests)."""

    def write(self, data: bytes, /) -> int | None: ...

    def read_until(self, expected: bytes = ..., size: int | None = ...) -> bytes: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


RECONNECT_BACKOFF_S = 0.5
RECONNECT_BACKOFF_MAX_S = 10.0


class ChamberError(InstrumentFault, RuntimeError):
    """The chamber could not be talked to: no reply, or replies that make no sense.

    ``str()`` reads ``chamber on PORT: 'COMMAND' detail``; ``instrument`` is
    ``chamber on PORT``."""

    def __init__(self, port: str, command: str, detail: str, *, link_lost: bool = False) -> None:
        super().__init__(f"chamber on {port}", command, detail, link_lost=link_lost)
        self.args = (f"chamber on {port}: {command!r} {detail}",)


class ChamberTimeout(ChamberError):
    """The chamber did not answer a command within the timeout, twice."""


class ChamberRefused(ChamberError):
    """The controller answered ``NA:``: it understood the command and refused it."""


class SerialChamber:
    """Implements :class:`cyclerctl.drivers.base.Chamber` for an ESPEC controller.

    ``port``: the serial device (``/dev/ttyUSB0``, ``COM3``); ``unit``: the RS-485 unit
    number (None on RS-232); ``timeout``: seconds to wait for each reply. ``transport``
    replaces the pyserial port (tests). The controller's ``ROM?`` answer is read on opening
    and becomes :attr:`identity`.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = protocol.BAUDRATE,
        timeout: float = 1.0,
        unit: int | None = None,
        transport: Transport | None = None,
        reconnect_backoff_s: float = RECONNECT_BACKOFF_S,
        reconnect_backoff_max_s: float = RECONNECT_BACKOFF_MAX_S,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 s, not {timeout!r}")
        if unit is not None and not 0 < unit < 100:
            raise ValueError(f"RS-485 unit number must be 1..99, not {unit!r}")
        self.port = port
        self.timeout_s = timeout
        self.unit = unit
        self._lock = threading.Lock()
        self._closed = False
        self._baudrate = baudrate
        self._reopenable = transport is None  # a port it opened itself it can open again
        self._backoff_first = reconnect_backoff_s
        self._backoff_max = reconnect_backoff_max_s
        self._lost_since: float | None = None  # the port failed: reopened on the next call
        self._lost_cause = ""
        self._next_attempt = 0.0
        self._backoff = reconnect_backoff_s
        self.reconnections = 0
        self._transport: Transport = transport if transport is not None else self._open_port()
        try:
            rom = self._query(protocol.QUERY_ROM, protocol.parse_rom)
        except ChamberError:
            self._transport.close()
            self._closed = True
            raise
        self._identity = Identity(
            driver="chamber",
            vendor="ESPEC",
            model=rom.model,
            serial=port if unit is None else f"{port} unit {unit}",  # ESPEC reports none
            firmware=rom.version,
        )

    # -- Chamber ---------------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self._identity

    def set_temperature(self, setpoint_K: float) -> None:
        """Set the constant-mode set point and run on it (``TEMP, S…`` then
        ``MODE,CONSTANT``), each acknowledged by the controller's echo."""
        if not (math.isfinite(setpoint_K) and setpoint_K > 0):
            raise ValueError(f"chamber set point must be above 0 K, not {setpoint_K!r}")
        command = protocol.set_temperature(setpoint_K - ZERO_CELSIUS_K)
        with self._lock:  # the two commands belong together
            for setting in (command, protocol.RUN_CONSTANT):
                self._exchange(setting, partial(protocol.check_ack, command=setting))

    def read(self) -> ChamberReading:
        """The measured temperature and the set point in force (None while the
        controller is off or in standby)."""
        with self._lock:
            status = self._exchange(protocol.QUERY_TEMPERATURE, protocol.parse_temperature)
            monitor = self._exchange(protocol.QUERY_MONITOR, protocol.parse_monitor)
        return ChamberReading(
            temperature_K=status.measured_C + ZERO_CELSIUS_K,
            setpoint_K=status.setpoint_C + ZERO_CELSIUS_K if monitor.controlling else None,
        )

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._transport.close()

    # -- more of the controller -------------------------------------------------------------

    def monitor(self) -> protocol.Monitor:
        """``MON?``: temperature, humidity, operating mode and the number of alarms."""
        return self._query(protocol.QUERY_MONITOR, protocol.parse_monitor)

    def temperature_status(self) -> protocol.TemperatureStatus:
        """``TEMP?``: measured, set point and the controller's upper and lower limits."""
        return self._query(protocol.QUERY_TEMPERATURE, protocol.parse_temperature)

    # -- the port ----------------------------------------------------------------------------

    def _open_port(self) -> Transport:
        import serial  # only a serial chamber needs pyserial

        try:
            port: Transport = serial.Serial(
                self.port,
                baudrate=self._baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=self.timeout_s,
            )
        except (serial.SerialException, OSError) as error:
            raise ChamberError(self.port, "open", f"cannot open the port: {error}") from None
        return port

    def _lose_port(self, command: str, cause: str) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            self._lost_cause = f"{command!r}: {cause}"
            self._next_attempt = self._lost_since
            self._backoff = self._backoff_first
        with contextlib.suppress(*PORT_ERRORS):
            self._transport.close()

    def _reconnect(self, command: str) -> None:
        """Open the port again and check the controller answers; or raise at once."""
        assert self._lost_since is not None
        now = time.monotonic()
        gone = f"port lost {now - self._lost_since:.1f} s ago ({self._lost_cause})"
        if not self._reopenable:
            raise ChamberError(self.port, command, gone, link_lost=True)
        if now < self._next_attempt:
            raise ChamberError(
                self.port, command,
                f"{gone}; next attempt to open it in {self._next_attempt - now:.1f} s",
                link_lost=True,
            )  # fmt: skip
        lost_since, backoff = self._lost_since, self._backoff
        try:
            self._transport = self._open_port()
            self._lost_since = None  # this exchange is the check, not a reconnection
            self._exchange(protocol.QUERY_ROM, protocol.parse_rom)
        except ChamberError as error:
            with contextlib.suppress(*PORT_ERRORS):
                self._transport.close()
            self._lost_since = lost_since
            self._next_attempt = time.monotonic() + backoff
            self._backoff = min(2 * backoff, self._backoff_max)
            raise ChamberError(
                self.port, command, f"{gone}; reopening failed: {error}", link_lost=True
            ) from None
        self.reconnections += 1

    # -- the wire ----------------------------------------------------------------------------

    def _query(self, command: str, parse: Callable[[str], T]) -> T:
        with self._lock:
            return self._exchange(command, parse)

    def _exchange(self, command: str, parse: Callable[[str], T]) -> T:
        """One command, its reply parsed; asked twice at most. Call with the lock held."""
        if self._closed:
            raise ChamberError(self.port, command, "not sent: the port is closed")
        if self._lost_since is not None:
            self._reconnect(command)
        frame = protocol.encode(command, self.unit)
        problems: list[str] = []
        silent = 0
        port_errors = 0
        for _attempt in range(2):
            try:
                # whatever arrived late for an earlier command is not this command's reply
                self._transport.reset_input_buffer()
                self._transport.write(frame)
                raw = self._transport.read_until(protocol.TERMINATOR)
            except PORT_ERRORS as error:  # serial.SerialException is an OSError
                port_errors += 1
                problems.append(f"port error: {error}")
                continue
            if not raw:
                silent += 1
                problems.append(f"no reply within {self.timeout_s:g} s")
                continue
            try:
                reply = protocol.decode(raw)
                protocol.check_refusal(reply)
                return parse(reply)
            except protocol.Refused as refusal:
                raise ChamberRefused(self.port, command, f"refused: {refusal}") from None
            except protocol.GarbledReply as error:
                problems.append(str(error))
        detail = "failed twice: " + "; then ".join(problems)
        if port_errors == len(problems):  # the port itself is gone: reopen it next time
            self._lose_port(command, problems[-1])
            raise ChamberError(self.port, command, detail, link_lost=True)
        kind = ChamberTimeout if silent == len(problems) else ChamberError
        raise kind(self.port, command, detail)
