"""The one place for calls that differ between operating systems: where per-user state
lives, whether a process is alive, making a write durable, which signals mean "the
operator wants this process to stop", who the user is and what runs the daemon at boot
(Linux: a systemd unit; a Windows lab PC: a scheduled task or NSSM, which is only named
here: no Windows service is written).

Everything else in cyclerctl calls these and never looks at ``sys.platform`` itself, so a
Windows lab PC differs from a Linux one in this file only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

APP_NAME = "cyclerctl"


# -- who runs what, and how the daemon starts at boot -------------------------------------

IS_WINDOWS = os.name == "nt"

#: What a Windows lab PC uses instead of a systemd unit.
WINDOWS_SERVICE_NOTE = (
    "a Windows lab PC has no systemd: run `cyclerctl daemon --config lab.toml` as a "
    'scheduled task at start-up (schtasks /create /sc onstart /ru <user> /tr "…"), or as '
    "a service with NSSM (nssm install cyclerctl <path to cyclerctl.exe> daemon --config …)"
)


def current_user() -> str:
    """The login name of the user running this command (whom a service should run as)."""
    if IS_WINDOWS:
        import getpass

        return getpass.getuser()
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def cyclerctl_executable() -> Path:
    """The absolute path of the ``cyclerctl`` command this process was started as.

    ``python -m cyclerctl`` has no such command: the one beside this interpreter (the
    virtual environment's) is named, then the first on PATH.
    """
    name = "cyclerctl.exe" if IS_WINDOWS else "cyclerctl"
    started = Path(sys.argv[0])
    if started.name == name and started.exists():
        return started.resolve()
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside.absolute()  # not resolved: a venv's python may be a link elsewhere
    found = shutil.which(name)
    if found is not None:
        return Path(found).absolute()
    return beside.absolute()


# -- where things live ----------------------------------------------------------------------


def user_state_dir() -> Path:
    """Where cyclerctl keeps per-user state that must survive a restart (the store's
    outage journal): ``%LOCALAPPDATA%\\cyclerctl`` on Windows, ``~/Library/Application
    Support/cyclerctl`` on macOS, else ``$XDG_STATE_HOME/cyclerctl`` (default
    ``~/.local/state/cyclerctl``, the XDG Base Directory specification's state home)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get("XDG_STATE_HOME")
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base_dir / APP_NAME


# -- processes ------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (it may be another program
    that got the id again: callers pair this with a heartbeat)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        synchronize = 0x00100000
        process_query_limited_information = 0x1000
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(synchronize | process_query_limited_information, False, pid)
        if not handle:
            return False
        try:
            still_active = 259
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return bool(code.value == still_active)
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    if sys.platform == "linux":  # killed but not yet reaped by its parent: a zombie
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[:1] != ["Z"]
    return True


# -- durable writes -------------------------------------------------------------------------


def sync_file(fd: int) -> None:
    """Force what was written to ``fd`` onto the disk (a power cut keeps it)."""
    if sys.platform == "darwin":  # fsync only reaches the drive's cache on macOS
        import fcntl

        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except OSError:
            pass
    os.fsync(fd)


def sync_folder(folder: Path) -> None:
    """Make a file just created in ``folder`` survive a power cut (its directory entry on
    disk). POSIX only: Windows (NTFS) has no directory handles to fsync."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


# -- the operator's stop signals --------------------------------------------------------------


class StopSignal(KeyboardInterrupt):
    """The process was told to stop by a signal (or the console): handled like Ctrl-C,
    with the signal's name (``SIGTERM``, ``SIGHUP``…) kept for the run's end reason."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.signal_name = name


def stop_signals() -> tuple[signal.Signals, ...]:
    """What asks a foreground process to stop here: Ctrl-C, ``kill``, and the terminal
    going away (SIGHUP on POSIX; on Windows Ctrl-Break is SIGBREAK, and closing the console
    window is turned into SIGBREAK by :func:`stop_on_signals`)."""
    if sys.platform == "win32":
        return (signal.SIGINT, signal.SIGTERM, signal.SIGBREAK)
    return (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextlib.contextmanager
def calling_on_stop(callback: Callable[[str], None]) -> Iterator[None]:
    """While inside, each of :func:`stop_signals` calls ``callback(signal name)`` instead
    of its default (a daemon or an emulator then stops cleanly); restored afterwards.
    Main thread only, as every signal handler."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        callback(signal_name(signum))

    previous = {s: signal.signal(s, handler) for s in stop_signals()}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _StopState:
    """Where the main thread is, for the stop-signal handler (signals run in the main
    thread only, so plain attributes do)."""

    armed = False  # inside interruptible(): a signal raises StopSignal at once
    pending: str | None = None  # a signal that came outside it, raised on entering
    raised = False  # one StopSignal per process: the stop it starts must finish


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """The span where a stop signal may interrupt the main thread (the engine's loop).
    Outside it — setting up, closing the writer, recording the run's end — a signal is
    held and raised when the span is entered, so the run's end is never cut in half.
    Does nothing in other threads or when no stop_on_signals() is active."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _StopState.pending is not None and not _StopState.raised:
        name, _StopState.pending = _StopState.pending, None
        _StopState.raised = True
        raise StopSignal(name)
    _StopState.armed = True
    try:
        yield
    finally:
        _StopState.armed = False


@contextlib.contextmanager
def stop_on_signals(
    on_signal: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """While inside, a stop signal raises :class:`StopSignal` in the main thread inside
    :func:`interruptible` (at once, or when it is entered) — once: a second signal while
    the first stop is being carried out is reported to ``on_signal`` and otherwise ignored,
    so the orderly stop (channel to rest, run recorded) finishes. The previous handlers are
    restored on exit. Only the main thread can install handlers; elsewhere this does
    nothing."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _StopState.armed, _StopState.pending, _StopState.raised = False, None, False

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal_name(signum)
        if on_signal is not None:
            on_signal(name)
        if _StopState.raised:
            return
        if _StopState.armed:
            _StopState.raised = True
            raise StopSignal(name)
        if _StopState.pending is None:
            _StopState.pending = name

    previous = {s: signal.signal(s, handler) for s in stop_signals()}
    console = _console_close_handler() if sys.platform == "win32" else None
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if console is not None:
            _remove_console_handler(console)
        # a signal that came after the run's end was recorded: the process ends anyway
        _StopState.pending = None


def _console_close_handler() -> object:
    """Windows: closing the console window, logging off or shutting down sends
    CTRL_CLOSE/LOGOFF/SHUTDOWN_EVENT to a console handler on another thread (no signal);
    it is passed on to the main thread as SIGBREAK, and Windows waits for the handler to
    return (a few seconds) before it ends the process."""
    if sys.platform != "win32":
        return None
    import _thread
    import ctypes
    import time

    ctrl_close, ctrl_logoff, ctrl_shutdown = 2, 5, 6
    handler_type = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_uint)

    def on_console(event: int) -> int:
        if event in (ctrl_close, ctrl_logoff, ctrl_shutdown):
            _thread.interrupt_main(signal.SIGBREAK)
            time.sleep(5.0)  # time for the orderly stop, within what Windows allows
            return 1
        return 0  # Ctrl-C / Ctrl-Break: the signal handlers see them

    handler = handler_type(on_console)
    ctypes.windll.kernel32.SetConsoleCtrlHandler(handler, True)
    return handler  # kept alive by the caller until removed


def _remove_console_handler(handler: object) -> None:
    if sys.platform != "win32":
        return
    import ctypes

    ctypes.windll.kernel32.SetConsoleCtrlHandler(handler, False)
