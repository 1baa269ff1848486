"""Neware BTS multichannel cyclers through the BTS API (XML over TCP), and an emulator.

- ``messages``: the wire (framing, every request and answer, built and parsed);
- ``stepfile``: a bound Step as a BTS step file and back;
- ``link``: the socket, its lock, reconnecting with backoff;
- ``driver``: ``NewareInstrument`` / ``NewareChannel`` (one step file per step);
- ``tag``: what the driver writes into a test's barcode to find it again after a crash;
- ``emulator``: a loopback BTS API server running the simulator's cells.

Sources: the BTSAPI protocol (v1.19) as a public client summarises it, and the requests
and captured BTS 8.0 answers of EmpaEconversion/aurora-neware (replayed in the tests:
tests/drivers/neware/captures); step files as BTS Client 8.0 writes them
(EmpaEconversion/aurora-unicycler ``_formats/neware.py``). Not run against a real cycler:
what stays unconfirmed without one is in :data:`UNCONFIRMED` (``cyclerctl probe`` prints
it), and in detail in ``messages`` and ``stepfile``.

Step files and the BTS PC: ``start`` sends BTS the *path* of a step file, and the BTS PC
opens that path itself. On the BTS PC, the default (a private temporary folder) works.
From another machine, share a folder between the two (an SMB share on the BTS PC, or a
network drive both see), point ``stepfile_dir`` at it as this machine mounts it (e.g.
``/mnt/bts-steps``) and ``bts_stepfile_dir`` at it as the BTS PC names it (e.g.
``D:\\cyclerctl-steps`` or ``\\\\labpc\\cyclerctl-steps``). The BTS API has no command that
reads or lists a file without starting a test, so the driver cannot check the share at
connect: it says so (``instrument.notes``, logged), warns when a remote BTS is sent a path
of this machine, and a refused ``start`` names the path sent.

Options (``open_instrument``): ``virtual_time`` (the peer is an emulator in virtual time:
the engine never sleeps), ``timeout_s`` (per answer, default 30 s as the protocol allows),
``username``/``password`` (default admin/neware), ``retries``/``retry_initial_s``/
``retry_max_s`` (reconnect backoff, default 6 tries from 0.2 s doubling to 5 s),
``record_interval_s`` (record every Δt when a step names no criterion, default 1 s),
``stepfile_dir`` (where step files are written; default a private temporary folder) and
``bts_stepfile_dir`` (that folder as the BTS PC sees it, when not the same machine),
``barcode``, ``auxid`` (auxiliary temperature channel, default none), ``current_max_A``,
``voltage_range_V``, ``download_records`` (records per download, default the protocol's
1000), ``channels`` (only these "dev-sub-chl" keys), ``bts_backup_dir`` (the ``<backup>``
folder of each start, on the BTS PC; default ``C:\\Neware data`` as aurora-neware's),
``cv_current_limit_A`` (a CV hold's current limit when no CC step ran before it on the
channel, e.g. after a resume; else the channel maximum, with a warning). ``speed``,
``seed``, ``dummy_load_ohm`` and ``miscale`` apply to an emulator only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cyclerctl.plan import CellSummary

from . import messages
from .driver import ChannelSettings, NewareChannel, NewareInstrument
from .emulator import NewareEmulator

#: What stays unconfirmed without a real BTS (``cyclerctl probe`` prints these).
UNCONFIRMED: tuple[str, ...] = (
    "getdevinfo 'false': read as 'not free' (in the captured BTS 8.0 answers it marks exactly "
    "the channels running a test); such a channel is offered only when its test is ours",
    "whether BTS needs the <backup> element of start (both public clients send it; we do)",
    "whether BTS answers a request ended by a bare '#\\r\\n' (we send '\\n\\n#\\r\\n', as "
    "the public clients do)",
    "whether BTS can open the step file path it is sent: the API cannot show it before a start",
    "step file Cap in mA·s; the record step type of a discharging CV ('dv')",
    "a CC-CV as a CC step then a CV step: the CV part's records carry stepid 2 and count "
    "time and capacity from 0 (as BTS counts per step); its first record is the CC's last",
    "that inquire echoes the barcode given to start (the driver's resume tag), and its length",
    "auxtemp on download records with an auxid; the answer to a wrong password",
)

__all__ = [
    "UNCONFIRMED",
    "NewareChannel",
    "NewareEmulator",
    "NewareInstrument",
    "messages",
    "open_instrument",
    "parse_address",
    "probe_lines",
    "start_emulator",
]

DEFAULT_PORT = 502
_LINK_OPTIONS = ("username", "password", "timeout_s", "retries", "retry_initial_s", "retry_max_s")
_SETTINGS = (
    "virtual_time",
    "record_interval_s",
    "stepfile_dir",
    "bts_stepfile_dir",
    "barcode",
    "auxid",
    "current_max_A",
    "voltage_range_V",
    "download_records",
    "bts_backup_dir",
    "cv_current_limit_A",
)
# voltage_limit_V: the common compliance option of sources; a cycler's step file carries
# its own voltage limits, so it is accepted and not used
_OTHER = (
    "channels",
    "speed",
    "seed",
    "emulated_cells",
    "voltage_limit_V",
    "dummy_load_ohm",
    "miscale",
)


def parse_address(address: str) -> tuple[str, int]:
    """``host``, ``host:port`` or a VISA-like ``TCPIP[n]::host::port::SOCKET``."""
    visa = re.fullmatch(r"TCPIP\d*::([^:]+)::(\d+)::SOCKET", address.strip(), re.IGNORECASE)
    if visa:
        return visa.group(1), int(visa.group(2))
    host, _, port = address.strip().rpartition(":")
    if not host:
        return port, DEFAULT_PORT
    if not port.isdigit():
        raise ValueError(f"neware address {address!r}: expected host:port")
    return host, int(port)


def open_instrument(address: str, options: Mapping[str, Any]) -> NewareInstrument:
    """A connected instrument. ``address`` "emulated" starts an in-process emulator with
    ``options["emulated_cells"]`` on the loopback and closes it with the instrument."""
    unknown = set(options) - set(_LINK_OPTIONS) - set(_SETTINGS) - set(_OTHER)
    if unknown:
        raise ValueError(f"neware: unknown options {', '.join(sorted(unknown))}")
    emulator: NewareEmulator | None = None
    if address == "emulated":
        emulator = start_emulator(options.get("emulated_cells") or [], "127.0.0.1", 0, options)
        address = emulator.address
    host, port = parse_address(address)
    link = {k: options[k] for k in _LINK_OPTIONS if k in options}
    settings: dict[str, Any] = {k: options[k] for k in _SETTINGS if k in options}
    if settings.get("voltage_range_V") is not None:
        low, high = settings["voltage_range_V"]
        settings["voltage_range_V"] = (float(low), float(high))
    if "stepfile_dir" in settings:
        settings["stepfile_dir"] = Path(settings["stepfile_dir"])
    instrument = NewareInstrument(
        host,
        port,
        **link,
        settings=ChannelSettings(**settings),
        only_channels=options.get("channels"),
        on_close=None if emulator is None else emulator.close,
    )
    try:
        instrument.connect()
    except BaseException:
        instrument.close()
        raise
    return instrument


def start_emulator(
    cells: Sequence[CellSummary], host: str, port: int, options: Mapping[str, Any]
) -> NewareEmulator:
    """An emulator on ``host:port``; options ``virtual_time``, ``speed``, ``seed``, and for
    commissioning ``dummy_load_ohm`` (a resistor on every channel instead of the cells) and
    ``miscale`` ("current_mA": a deliberately mis-scaled instrument)."""
    dummy = options.get("dummy_load_ohm")
    return NewareEmulator(
        cells,
        host,
        port,
        virtual_time=bool(options.get("virtual_time", True)),
        speed=float(options.get("speed", 1.0)),
        seed=options.get("seed"),
        dummy_load_ohm=None if dummy is None else float(dummy),
        miscale=options.get("miscale"),
    )


def probe_lines(instrument: NewareInstrument) -> list[str]:
    """What ``cyclerctl probe`` should print after the channels: the channels listed but not
    offered and why, what the driver cannot check (the step file folder), and every
    unconfirmed detail, each line marked "unconfirmed"."""
    lines = [f"not offered: neware:{key}: {why}" for key, why in instrument.unavailable.items()]
    lines += [f"note: {note}" for note in instrument.notes]
    lines += [f"unconfirmed: {item}" for item in UNCONFIRMED]
    return lines
