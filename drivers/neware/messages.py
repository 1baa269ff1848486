"""The BTS API messages: XML documents over TCP, built and parsed in this one place.

Sources followed (public; the vendor's own document was not available here):

- Neware's "BTSAPI protocol" v1.19 as summarised by a public client (section numbers 2.1.x):
  TCP port 502, UTF-8 XML ``<bts version="1.0"><cmd>…</cmd>…</bts>``, one question and
  one answer at a time (answers within 30 s). ``download`` gives at most 1000 records, and
  ``startpos`` is the record's sequence number (1-based), not an offset.
- Framing: every public client ends a request with a blank line and ``#\\r\\n``
  (``</bts>\\n\\n#\\r\\n``: aurora-neware ``neware.py`` ``termination``, and a public
  client's self-test that calls it "the form measured on site"), and aurora-neware reads an
  answer until that same ``\\n\\n#\\r\\n`` (its fake socket replays the captured BTS 8.0
  answers followed by it). So we send exactly that, the emulator answers with it and
  accepts nothing else (a request without the blank line stays unanswered, as on a server
  that waits for it), and the driver's reader also takes a bare ``#\\r\\n``.
- EmpaEconversion/aurora-neware (MIT): the request shapes it sends, and answers it captured
  from a BTS 8.0 machine: ``connect`` with ``<username>``/``<password>``/``<type>``,
  ``getdevinfo`` → ``<middle><channel … Channelid=…>``, ``getchlstatus`` → ``<status>``
  (working / stop / finish / protect / pause), ``start`` with the step file's *path* as the
  element text, ``stop``, ``inquire``, and ``download`` → ``donwload_resp`` (sic, the real
  server's spelling) with ``<data seqid stepid cycleid steptype testtime atime volt curr
  cap eng>``: ``testtime`` in ms of the step (the captured block: cap/|curr| equals it),
  ``volt`` V, ``curr`` A signed, ``cap`` Ah and ``eng`` Wh unsigned.

Unconfirmed (chosen, kept here so one edit corrects them):

- the answer to a wrong password (we answer and expect ``<result>false</result>``);
- ``auxtemp`` (°C) on a download record when ``auxid`` > 0: the name is the one ``inquire``
  uses for an auxiliary temperature; whether ``download`` carries it so is not confirmed;
- ``continue`` is built as the public client builds it, but its answer is not captured;
- whether BTS also answers a request ended by a bare ``#\\r\\n`` (we never send one);
- what ``false`` on a ``getdevinfo`` channel means: in the captured BTS 8.0 answers it marks
  exactly the channels that ``getchlstatus``/``inquire`` of the same capture show working
  (someone's test), and one public client reads it as "can light"; a disabled channel may
  be marked so too. Either way it is not free for a new test (see ``driver``);
- whether BTS needs the ``<backup …/>`` element of ``start`` (both public clients send it;
  aurora-neware's captured ``start_resp`` ``ok`` answered a request with it), and what its
  attributes mean beyond ``backupdir`` (copied from aurora-neware's request).

Not run against a real cycler.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: What ends a request (and a BTS answer): a blank line, then ``#\\r\\n``.
TERMINATOR = b"\n\n#\r\n"
#: The part of it the driver's reader of answers splits on (a bare ``#\\r\\n`` is taken too).
MARK = b"#\r\n"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>'
#: ``download`` gives at most this many records per request (BTSAPI 2.1.6).
MAX_DOWNLOAD = 1000
#: Channel states after which a test has ended (``getchlstatus``).
ENDED_STATES = frozenset({"finish", "stop", "protect"})


class ProtocolError(RuntimeError):
    """An answer that is not the BTS API document expected."""


@dataclass(frozen=True, slots=True)
class ChannelAddress:
    """Where a channel is: the middle machine's ip, device type, device, sub-device, channel."""

    devid: int
    subdevid: int
    chlid: int
    devtype: int = 27
    ip: str = "127.0.0.1"

    @property
    def key(self) -> str:
        return f"{self.devid}-{self.subdevid}-{self.chlid}"

    def attributes(self) -> dict[str, str]:
        return {
            "ip": self.ip,
            "devtype": str(self.devtype),
            "devid": str(self.devid),
            "subdevid": str(self.subdevid),
            "chlid": str(self.chlid),
        }


@dataclass(frozen=True, slots=True)
class Message:
    cmd: str
    root: ET.Element


# -- framing ----------------------------------------------------------------------------


def document(cmd: str, *body: ET.Element) -> str:
    """A whole ``<bts>`` document (the declaration, then one line of XML)."""
    root = ET.Element("bts", version="1.0")
    ET.SubElement(root, "cmd").text = cmd
    root.extend(body)
    return DECLARATION + ET.tostring(root, encoding="unicode")


def frame(text: str) -> bytes:
    return text.encode("utf-8") + TERMINATOR


class FrameReader:
    """Splits a byte stream into documents: partial reads wait, several per read all come out.

    ``strict`` (the emulator reading requests): a document ends only at the whole
    ``\\n\\n#\\r\\n``, so a request without the blank line stays pending, unanswered.
    Otherwise (the driver reading answers) a bare ``#\\r\\n`` ends one too.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self._buffer = bytearray()
        self._end = TERMINATOR if strict else MARK

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while True:
            end = self._buffer.find(self._end)
            if end < 0:
                return frames
            piece = bytes(self._buffer[:end]).strip()
            del self._buffer[: end + len(self._end)]
            if piece:  # a lone terminator is not a message
                frames.append(piece)

    @property
    def pending(self) -> int:
        """Bytes received that are not yet a whole document."""
        return len(self._buffer.strip())

    @property
    def leftover(self) -> bytes:
        return bytes(self._buffer)


def parse(data: bytes) -> Message:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProtocolError(f"not an XML document ({exc}): {data[:200]!r}") from None
    if root.tag != "bts":
        raise ProtocolError(f"expected a <bts> document, got <{root.tag}>")
    return Message((root.findtext("cmd") or "").strip(), root)


def expect(message: Message, *cmds: str) -> Message:
    if message.cmd not in cmds:
        raise ProtocolError(f"expected {' or '.join(cmds)}, got {message.cmd or 'no <cmd>'}")
    return message


# -- requests (what the driver sends) ----------------------------------------------------


def _element(tag: str, attributes: dict[str, str], text: str | None = None) -> ET.Element:
    element = ET.Element(tag, attributes)
    element.text = text
    return element


def _listed(tag: str, items: Iterable[ET.Element]) -> ET.Element:
    children = list(items)
    listing = ET.Element("list", count=str(len(children)))
    listing.extend(children)
    return listing


def _per_channel(cmd: str, tag: str, channels: Sequence[ChannelAddress]) -> str:
    return document(cmd, _listed(tag, (_element(tag, c.attributes(), "true") for c in channels)))


def connect_request(username: str, password: str, client_type: str = "bfgs") -> str:
    parts = []
    for tag, text in (("username", username), ("password", password), ("type", client_type)):
        parts.append(_element(tag, {}, text))
    return document("connect", *parts)


def getdevinfo_request() -> str:
    return document("getdevinfo")


def getchlstatus_request(channels: Sequence[ChannelAddress]) -> str:
    return _per_channel("getchlstatus", "status", channels)


def stop_request(channels: Sequence[ChannelAddress]) -> str:
    return _per_channel("stop", "stop", channels)


def continue_request(channels: Sequence[ChannelAddress]) -> str:
    return _per_channel("continue", "continue", channels)


#: The ``<backup>`` element's attributes after ``backupdir``, as aurora-neware sends them
#: (``NewareAPI.start``): BTS's own periodic data-file backup of the test (unconfirmed
#: beyond that; see the module docstring).
BACKUP_ATTRIBUTES = (
    ("remotedir", ""),
    ("filenametype", "0"),
    ("customfilename", ""),
    ("addtimewhenrepeat", "0"),
    ("createdirbydate", "0"),
    ("filetype", "0"),
    ("backupontime", "1"),
    ("backupontimeinterval", "720"),
    ("backupfree", "1"),
)


def start_request(
    channel: ChannelAddress, stepfile_path: str, barcode: str, backup_dir: str
) -> str:
    """Start the step file at ``stepfile_path`` (a path the BTS client can read) on a channel.

    The ``<backup>`` element follows the channel's ``<start>`` inside ``<list>`` (not counted
    in it), where aurora-neware puts it; ``backup_dir`` is a folder on the BTS PC.
    """
    item = _element("start", {**channel.attributes(), "barcode": barcode}, stepfile_path)
    listing = _listed("start", [item])
    listing.append(_element("backup", {"backupdir": backup_dir, **dict(BACKUP_ATTRIBUTES)}))
    return document("start", listing)


def inquire_request(channels: Sequence[ChannelAddress]) -> str:
    items = (
        _element("inquire", {**c.attributes(), "aux": "0", "barcode": "1"}, "true")
        for c in channels
    )
    return document("inquire", _listed("inquire", items))


def download_request(
    channel: ChannelAddress, *, testid: int, startpos: int, count: int, auxid: int = 0
) -> str:
    """Records ``startpos`` … ``startpos + count - 1`` of test ``testid`` (0: the latest)."""
    if not 0 <= count <= MAX_DOWNLOAD:
        raise ValueError(f"download count must be 0…{MAX_DOWNLOAD}, not {count}")
    attributes = {
        "devtype": str(channel.devtype),
        "devid": str(channel.devid),
        "subdevid": str(channel.subdevid),
        "chlid": str(channel.chlid),
        "auxid": str(auxid),
        "testid": str(testid),
        "startpos": str(startpos),
        "count": str(count),
    }
    return document("download", _element("download", attributes))


def downloadlog_request(channel: ChannelAddress, *, testid: int = 0) -> str:
    """The event log of test ``testid`` (0: the latest): protections, pauses, ends."""
    attributes = {
        "devtype": str(channel.devtype),
        "devid": str(channel.devid),
        "subdevid": str(channel.subdevid),
        "chlid": str(channel.chlid),
        "testid": str(testid),
    }
    return document("downloadlog", _element("download", attributes))


# -- reading requests (what the emulator receives) -----------------------------------------


def address_of(element: ET.Element) -> ChannelAddress:
    try:
        return ChannelAddress(
            devid=int(element.get("devid", "")),
            subdevid=int(element.get("subdevid", "")),
            chlid=int(element.get("chlid") or element.get("Channelid") or ""),
            devtype=int(element.get("devtype", "27")),
            ip=element.get("ip", "127.0.0.1"),
        )
    except ValueError:
        raise ProtocolError(f"<{element.tag}> without a whole channel address") from None


def listed(message: Message, tag: str) -> list[ET.Element]:
    listing = message.root.find("list")
    return [] if listing is None else listing.findall(tag)


def int_attribute(element: ET.Element, name: str, default: int | None = None) -> int:
    raw = element.get(name)
    if raw is None:
        if default is None:
            raise ProtocolError(f"<{element.tag}> has no {name}")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ProtocolError(f"<{element.tag} {name}={raw!r}>: not a whole number") from None


# -- answers (what the emulator sends) ---------------------------------------------------


def connect_response(ok: bool) -> str:
    return document("connect_resp", _element("result", {}, "ok" if ok else "false"))


def getdevinfo_response(
    channels: Sequence[ChannelAddress],
    *,
    client_version: str,
    server_ip: str = "127.0.0.1",
    free: Sequence[bool] | None = None,
) -> str:
    """``free``: each channel's ``true``/``false`` (all ``true`` when not given)."""
    client = ET.Element("client", version=client_version)
    servers = ET.Element("serverip", count="1")
    ET.SubElement(servers, "server", ip=server_ip, port="3306")
    middle = ET.Element("middle", count=str(len(channels)))
    for i, c in enumerate(channels):
        attributes = {
            "ip": c.ip,
            "devtype": str(c.devtype),
            "devid": str(c.devid),
            "subdevid": str(c.subdevid),
            "Channelid": str(c.chlid),
        }
        flag = free is None or free[i]
        middle.append(_element("channel", attributes, "true" if flag else "false"))
    return document("getdevinfo_resp", client, servers, middle)


def per_channel_response(cmd: str, tag: str, answers: Sequence[tuple[ChannelAddress, str]]) -> str:
    """``<cmd>{cmd}_resp</cmd><list><{tag} …address…>answer</{tag}></list>``."""
    items = (_element(tag, c.attributes(), text) for c, text in answers)
    return document(f"{cmd}_resp", _listed(tag, items))


def getchlstatus_response(answers: Sequence[tuple[ChannelAddress, str]]) -> str:
    items = (
        _element("status", {**c.attributes(), "reservepause": "0"}, state) for c, state in answers
    )
    return document("getchlstatus_resp", _listed("status", items))


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One buffered record as the cycler keeps it (the units of the wire)."""

    seqid: int
    steptype: str
    testtime_ms: int
    volt: float
    curr: float
    cap_Ah: float
    eng_Wh: float
    atime: str
    auxtemp_C: float | None = None
    stepid: int = 1


def download_response(
    channel: ChannelAddress,
    *,
    testid: int,
    startpos: int,
    count: int,
    auxid: int,
    records: Sequence[RecordRow],
) -> str:
    head = ET.Element(
        "download",
        devtype=str(channel.devtype),
        devid=str(channel.devid),
        subdevid=str(channel.subdevid),
        chlid=str(channel.chlid),
        testid=str(testid),
        startpos=str(startpos),
        count=str(count),
        auxid=str(auxid),
    )
    listing = ET.Element("list", count=str(len(records)))
    for r in records:
        attributes = {
            "seqid": str(r.seqid),
            "stepid": str(r.stepid),
            "cycleid": "1",
            "steptype": r.steptype,
            "testtime": str(r.testtime_ms),
            "atime": r.atime,
            "volt": repr(r.volt),
            "curr": repr(r.curr),
            "cap": repr(r.cap_Ah),
            "eng": repr(r.eng_Wh),
        }
        if auxid > 0 and r.auxtemp_C is not None:
            attributes["auxtemp"] = repr(r.auxtemp_C)
        ET.SubElement(listing, "data", attributes)
    return document("donwload_resp", head, listing)  # sic: the real server's spelling


def inquire_response(
    answers: Sequence[tuple[ChannelAddress, str, RecordRow | None]],
    barcodes: Sequence[str] | None = None,
) -> str:
    """Each channel's state and latest record; ``barcodes``: each one's test's barcode."""
    listing = ET.Element("list", count=str(len(answers)))
    for i, (c, state, last) in enumerate(answers):
        attributes = {
            "dev": f"{c.devtype}-{c.devid}-{c.subdevid}-{c.chlid}-0",
            "cycle_id": "1",
            "step_id": "1",
            "step_type": "--" if last is None else last.steptype,
            "workstatus": state,
            "barcode": "" if barcodes is None else barcodes[i],
            "current": "0" if last is None else repr(last.curr),
            "voltage": "0" if last is None else repr(last.volt),
            "capacity": "0" if last is None else repr(last.cap_Ah),
            "energy": "0" if last is None else repr(last.eng_Wh),
            "totaltime": "0" if last is None else repr(last.testtime_ms / 1000),
            "relativetime": "0" if last is None else repr(last.testtime_ms / 1000),
            "open_or_close": "0",
            "log_code": "0",
        }
        ET.SubElement(listing, "inquire", attributes)
    return document("inquire_resp", listing)


def error_response(cmd: str, reason: str) -> str:
    return document(f"{cmd}_resp", _element("result", {}, "false"), _element("error", {}, reason))


# -- reading answers (what the driver receives) --------------------------------------------


def connect_ok(message: Message) -> bool:
    expect(message, "connect_resp")
    return (message.root.findtext("result") or "").strip().lower() == "ok"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The channels ``getdevinfo`` lists, in its order, and which it marks ``true``."""

    channels: tuple[ChannelAddress, ...]
    client_version: str
    free: tuple[bool, ...] = ()

    def is_free(self, address: ChannelAddress) -> bool:
        return self.free[self.channels.index(address)] if self.free else True


def devinfo(message: Message) -> DeviceInfo:
    expect(message, "getdevinfo_resp")
    elements = message.root.findall("./middle/channel")
    channels = tuple(address_of(e) for e in elements)
    free = tuple((e.text or "").strip().lower() == "true" for e in elements)
    client = message.root.find("client")
    version = "" if client is None else client.get("version", "")
    return DeviceInfo(channels, version, free)


def answers(message: Message, cmd: str, tag: str, channels: Sequence[ChannelAddress]) -> list[str]:
    """The text answered for each of ``channels`` (``ok``/``false``, a state), in order.

    Matched by position when the answer lists as many items as were asked for: a BTS 8
    server was seen to name the wrong sub-device in ``getchlstatus`` answers (aurora-neware
    merges by position for that reason). Otherwise by address; "false" when missing.
    """
    expect(message, f"{cmd}_resp")
    items = listed(message, tag)
    if len(items) == len(channels):
        return [(e.text or "").strip() for e in items]
    by_key = {address_of(e).key: (e.text or "").strip() for e in items}
    return [by_key.get(c.key, "false") for c in channels]


def inquired_voltage(message: Message, channels: Sequence[ChannelAddress]) -> list[float]:
    """The present voltage of each of ``channels`` (NaN when not answered), in order."""
    return [math.nan if v is None else float(v) for v in _inquired(message, channels, "voltage")]


def inquired_barcode(message: Message, channels: Sequence[ChannelAddress]) -> list[str]:
    """The barcode of each of ``channels``' latest test ("" when not answered), in order.

    Asked for with ``barcode="1"`` in the request; that the answer carries the barcode the
    test was started with is how the public client reads it, not confirmed on a BTS.
    """
    return [v or "" for v in _inquired(message, channels, "barcode")]


def inquired_workstatus(message: Message, channels: Sequence[ChannelAddress]) -> list[str]:
    """Each of ``channels``' ``workstatus`` ("" when not answered), in order."""
    return [v or "" for v in _inquired(message, channels, "workstatus")]


def _inquired(message: Message, channels: Sequence[ChannelAddress], name: str) -> list[str | None]:
    expect(message, "inquire_resp")
    items = listed(message, "inquire")
    if len(items) != len(channels):
        by_key = {"-".join(e.get("dev", "").split("-")[1:4]): e for e in items}
        items = [by_key[c.key] for c in channels if c.key in by_key]
        if len(items) != len(channels):
            return [None] * len(channels)
    return [e.get(name) for e in items]


#: One downloaded record, decoded: sequence number, step time (s), V, I (A, signed),
#: step capacity (Ah, unsigned as the cycler counts it), auxiliary temperature (°C, NaN none),
#: the record's step type as the cycler names it ("cc", "dc", "cv", "rest"…; "" none), and
#: the step of the step file it belongs to (1 the first; a CC-CV's CV part is 2).
RECORD_DTYPE = np.dtype(
    [
        ("seqid", "i8"),
        ("stepid", "i4"),
        ("t", "f8"),
        ("V", "f8"),
        ("I", "f8"),
        ("cap_Ah", "f8"),
        ("T_C", "f8"),
        ("steptype", "U8"),
    ]
)


@dataclass(frozen=True, slots=True)
class Download:
    testid: int
    records: np.ndarray  # RECORD_DTYPE


def download(message: Message) -> Download:
    expect(message, "donwload_resp", "download_resp")
    head = message.root.find("download")
    testid = 0 if head is None else int_attribute(head, "testid", 0)
    rows = listed(message, "data")
    records = np.empty(len(rows), dtype=RECORD_DTYPE)
    try:
        for i, row in enumerate(rows):
            auxtemp = row.get("auxtemp")
            records[i] = (
                int(row.get("seqid", "")),
                int(row.get("stepid", "1")),
                int(float(row.get("testtime", ""))) / 1000.0,
                float(row.get("volt", "")),
                float(row.get("curr", "")),
                float(row.get("cap", "0")),
                float("nan") if auxtemp is None else float(auxtemp),
                row.get("steptype", ""),
            )
    except ValueError as exc:
        raise ProtocolError(f"a download record is not numeric: {exc}") from None
    return Download(testid, records)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a test's log: the record it came at, Neware's code, and when."""

    seqid: int
    log_code: int
    atime: str


def downloadlog(message: Message) -> list[LogEntry]:
    """A ``downloadlog`` answer (BTS 8.0 spells it ``donwloadlog_resp``, as ``download``)."""
    expect(message, "donwloadlog_resp", "downloadlog_resp")
    try:
        return [
            LogEntry(int(e.get("seqid", "")), int(e.get("log_code", "")), e.get("atime", ""))
            for e in listed(message, "data")
        ]
    except ValueError as exc:
        raise ProtocolError(f"a log entry is not numeric: {exc}") from None
