"""An ESPEC chamber controller on a pseudo-terminal, with the simulator's chamber physics.

``os.openpty()`` gives a pair: the driver (or any serial terminal) opens the slave path as
a real tty with pyserial; a thread here reads the master side, answers each ``CR LF`` line
as the controller would (``protocol.py``) and drives a :class:`SimChamber`. Pass the
simulated instrument's ``chamber`` to share its virtual clock (the cells then sit in the
very chamber the driver sets), or let the emulator build one on the wall clock × ``speed``.

What it answers: ``ROM?``, ``TEMP?``, ``MON?``, ``MODE?``, ``TEMP, S<x> [H<x>] [L<x>]``,
``MODE,CONSTANT|STANDBY|OFF``; anything else ``NA:CMD ERR``. A set point outside the
lower/upper limits is refused ``NA:DATA OUT OF RANGE`` (an assumption of this emulator).
With no set point in force (standby, off) the simulated chamber drifts to its ambient.

Fault hooks for tests: :meth:`garble_next` (the next n replies arrive corrupted: cut
short with junk bytes, or without their terminator), :meth:`silence_next` (the next
n commands are lost: not executed, not answered), :meth:`unplug` (the pseudo-terminal is
closed: the port vanishes under the driver, as a USB-serial adapter pulled out) and
:meth:`plug_in` (a new one). Give ``link`` (a path) to reach the port by a name that stays
the same across unplugging, as a udev rule gives a USB-serial adapter: it is a symbolic link
to the current pseudo-terminal, absent while unplugged. The controller keeps its state (set
point, mode) while unplugged, as a chamber does when its cable is pulled.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
import tty
from collections.abc import Callable

from cyclerctl import __version__

from ..sim.chamber import SimChamber
from . import protocol

ZERO_CELSIUS_K = 273.15


class ChamberEmulator:
    """Serves until :meth:`close`; :attr:`address` is the tty path to open."""

    def __init__(
        self,
        chamber: SimChamber,
        *,
        unit: int | None = None,
        model: str = "SIM-CHAMBER",
        rom_version: str = f"Ver.{__version__}",
        upper_limit_C: float = 150.0,
        lower_limit_C: float = -40.0,
        link: str | os.PathLike[str] | None = None,
    ) -> None:
        self.chamber = chamber
        self.unit = unit
        self.rom = f"{model} {rom_version}"
        self.upper_limit_C = upper_limit_C
        self.lower_limit_C = lower_limit_C
        setpoint = chamber.setpoint_K
        # a chamber already holding a set point is running in constant mode
        self.mode = "STANDBY" if setpoint is None else "CONSTANT"
        reference = chamber.ambient_K if setpoint is None else setpoint
        self.setpoint_C = round(reference - ZERO_CELSIUS_K, 1)
        self.requests: list[str] = []  # every line received, for tests
        self._garble: list[str] = []
        self._silence = 0
        self._scheduled: list[tuple[int, Callable[[], None]]] = []  # (lines to go, action)
        self._state = threading.Lock()
        self._link = None if link is None else os.fspath(link)
        self._master, self._slave = self._open_pty()
        self._plugged = True
        self._unplugged = threading.Event()  # the thread let go of the pty
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="chamber-emulator", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return self._link if self._link is not None else self._address

    def _open_pty(self) -> tuple[int, int]:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation before pyserial opens it
        self._address = os.ttyname(slave)
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link)
            os.symlink(self._address, self._link)
        return master, slave

    def unplug(self) -> None:
        """The port vanishes: the pseudo-terminal is closed (the driver's reads and writes
        fail), and ``link`` no longer exists, until :meth:`plug_in`."""
        if self._closed or not self._plugged:
            return
        self._unplugged.clear()
        self._plugged = False
        if threading.current_thread() is not self._thread:  # a hook runs on the thread itself
            os.write(self._wake_w, b"u")
            self._unplugged.wait(timeout=5)
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def plug_in(self) -> None:
        """A new pseudo-terminal, reached through ``link`` again."""
        if self._closed or self._plugged:
            return
        self._master, self._slave = self._open_pty()
        self._plugged = True
        os.write(self._wake_w, b"p")

    def garble_next(self, n: int = 1, *, kind: str = "junk") -> None:
        """Corrupt the next ``n`` replies: ``"junk"`` (half a reply, bytes that are not
        ASCII, then CR LF) or ``"short"`` (the reply without its terminator)."""
        if kind not in ("junk", "short"):
            raise ValueError(f"garble kind is 'junk' or 'short', not {kind!r}")
        with self._state:
            self._garble.extend([kind] * n)

    def silence_next(self, n: int = 1) -> None:
        """Lose the next ``n`` commands: no reply, no effect."""
        with self._state:
            self._silence += n

    def after_commands(self, n: int, action: Callable[[], None]) -> None:
        """Run ``action`` (a fault hook, e.g. :meth:`unplug`) when the ``n``-th line from now
        arrives, before it is answered: a fault at a chosen point of a run."""
        if n < 1:
            raise ValueError(f"after_commands: n is 1 or more, not {n}")
        with self._state:
            self._scheduled.append((n, action))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        fds = (self._master, self._slave) if self._plugged else ()
        for fd in (*fds, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._link is not None and self._plugged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link)

    def __enter__(self) -> ChamberEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the line --------------------------------------------------------------------------

    def _serve(self) -> None:
        pending = b""
        while True:
            watched = [self._master, self._wake_r] if self._plugged else [self._wake_r]
            ready, _, _ = select.select(watched, [], [])
            if self._wake_r in ready:
                signal = os.read(self._wake_r, 1)
                if signal == b"x":
                    return
                if signal == b"u":  # let go of the pty before it is closed
                    pending = b""
                    self._unplugged.set()
                continue
            try:
                pending += os.read(self._master, 4096)
            except OSError:  # the slave side was closed under us: nothing more to read
                time.sleep(0.01)
                continue
            while protocol.TERMINATOR in pending:
                line, pending = pending.split(protocol.TERMINATOR, 1)
                reply = self._answer(line)
                if not self._plugged:  # a hook pulled the plug: this line is lost
                    pending = b""
                    break
                if reply is not None:
                    self._send(reply)

    def _send(self, data: bytes) -> None:
        while data:
            written = os.write(self._master, data)
            data = data[written:]

    def _answer(self, line: bytes) -> bytes | None:
        text = line.decode("ascii", errors="replace").strip()
        with self._state:
            left = [(n - 1, action) for n, action in self._scheduled]
            self._scheduled = [(n, action) for n, action in left if n > 0]
        for n, action in left:
            if n == 0:
                action()
        if not self._plugged:
            return None
        with self._state:
            self.requests.append(text)
            if self._silence:
                self._silence -= 1
                return None
            garble = self._garble.pop(0) if self._garble else None
        unit, command = _split_unit(text)
        if self.unit is not None and unit != self.unit:
            return None  # another unit on the RS-485 bus is addressed
        reply = self._execute(command, echo=text).encode("ascii") + protocol.TERMINATOR
        if garble == "junk":
            return reply[: len(reply) // 2] + b"\xa7\x00" + protocol.TERMINATOR
        if garble == "short":
            return reply[: -len(protocol.TERMINATOR)][: max(1, len(reply) // 2)]
        return reply

    # -- the controller --------------------------------------------------------------------

    def _execute(self, command: str, *, echo: str) -> str:
        word = command.upper().replace(" ", "")
        if word == protocol.QUERY_ROM:
            return self.rom
        if word == protocol.QUERY_TEMPERATURE:
            return ",".join(
                f"{value:.1f}"
                for value in (
                    self._measured_C(),
                    self.setpoint_C,
                    self.upper_limit_C,
                    self.lower_limit_C,
                )
            )
        if word == protocol.QUERY_MONITOR:
            return f"{self._measured_C():.1f},,{self.mode},0"
        if word == "MODE?":
            return self.mode
        if word.startswith("MODE,"):
            mode = word.removeprefix("MODE,")
            if mode not in ("CONSTANT", "STANDBY", "OFF"):
                return "NA:PARA ERR"
            self.mode = mode
            self._apply()
            return f"OK:{echo}"
        if word.startswith("TEMP,"):
            return self._set_temperature(command.split(",", 1)[1], echo)
        return "NA:CMD ERR"

    def _set_temperature(self, arguments: str, echo: str) -> str:
        values: dict[str, float] = {}
        for token in arguments.split():
            match = re.fullmatch(r"([SHL])([-+]?\d+(?:\.\d*)?)", token.upper())
            if match is None:
                return "NA:PARA ERR"
            values[match[1]] = round(float(match[2]), 1)
        if not values:
            return "NA:PARA ERR"
        upper = values.get("H", self.upper_limit_C)
        lower = values.get("L", self.lower_limit_C)
        setpoint = values.get("S", self.setpoint_C)
        if not lower < upper or not lower <= setpoint <= upper:
            return "NA:DATA OUT OF RANGE"
        self.upper_limit_C, self.lower_limit_C, self.setpoint_C = upper, lower, setpoint
        self._apply()
        return f"OK:{echo}"

    def _apply(self) -> None:
        """Hand the set point in force to the physics; without one it drifts to ambient."""
        if self.mode == "CONSTANT":
            target = self.setpoint_C + ZERO_CELSIUS_K
        elif self.chamber.setpoint_K is None:
            return  # never set: already drifting to ambient
        else:
            target = self.chamber.ambient_K
        if self.chamber.setpoint_K != target:
            self.chamber.set_temperature(target)

    def _measured_C(self) -> float:
        return self.chamber.read().temperature_K - ZERO_CELSIUS_K


def _split_unit(text: str) -> tuple[int | None, str]:
    match = re.match(r"^\s*(\d+)\s*,(.*)$", text)
    if match is None:
        return None, text
    return int(match[1]), match[2].strip()
