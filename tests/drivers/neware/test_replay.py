"""The driver's exact bytes, replayed against a scripted BTS server (PyMeasure style)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.drivers.neware import NewareInstrument, open_instrument
from cyclerctl.drivers.neware.stepfile import parse_stepfile
from cyclerctl.plan import EndCondition, RecordCriteria, Step

from .peer import DROP, ScriptedPeer, replay

HEAD = b'<?xml version="1.0" encoding="UTF-8" ?><bts version="1.0">'
ANSWER = b'<?xml version="1.0" encoding="UTF-8"?>\r\n<bts version="1.0">\r\n'
END = b"\r\n</bts>\n\n#\r\n"  # how aurora-neware replays BTS 8.0 answers
BACKUP = (
    b'<backup backupdir="C:\\Neware data" remotedir="" filenametype="0" customfilename="" '
    b'addtimewhenrepeat="0" createdirbydate="0" filetype="0" backupontime="1" '
    b'backupontimeinterval="720" backupfree="1" />'
)  # as aurora-neware sends it, its default folder
CH = b'ip="127.0.0.1" devtype="27" devid="21" subdevid="1" chlid="1"'

CONNECT = (
    HEAD + b"<cmd>connect</cmd><username>admin</username><password>neware</password>"
    b"<type>bfgs</type></bts>\n\n#\r\n",
    ANSWER + b"  <cmd>connect_resp</cmd>\r\n  <result>ok</result>" + END,
)
GETDEVINFO = (
    HEAD + b"<cmd>getdevinfo</cmd></bts>\n\n#\r\n",
    ANSWER + b'  <cmd>getdevinfo_resp</cmd>\r\n  <serverip count="1">\r\n'
    b'    <server ip="127.0.0.1" port="3306" />\r\n  </serverip>\r\n  <middle count="2">\r\n'
    b'    <channel ip="127.0.0.1" devtype="27" devid="21" subdevid="1" Channelid="2">true'
    b"</channel>\r\n"
    b'    <channel ip="127.0.0.1" devtype="27" devid="21" subdevid="1" Channelid="1">true'
    b"</channel>\r\n  </middle>" + END,
)


def start(path: Path, tag: bytes) -> tuple[bytes, bytes]:
    """Start the step file at ``path``; the barcode is the lab's, then the driver's tag."""
    return (
        HEAD + b'<cmd>start</cmd><list count="1"><start ' + CH + b' barcode="cell-7|cyclerctl:'
        + tag + b'">'
        + str(path).encode() + b"</start>" + BACKUP + b"</list></bts>\n\n#\r\n",
        ANSWER + b'  <cmd>start_resp</cmd>\r\n  <list count="1">\r\n    <start ' + CH
        + b">ok</start>\r\n  </list>" + END,
    )  # fmt: skip


def download(
    testid: int, startpos: int, rows: list[bytes], answer_testid: int
) -> tuple[bytes, bytes]:
    return (
        HEAD + b'<cmd>download</cmd><download devtype="27" devid="21" subdevid="1" chlid="1" '
        b'auxid="0" testid="%d" startpos="%d" count="1000" /></bts>\n\n#\r\n' % (testid, startpos),
        ANSWER + b"  <cmd>donwload_resp</cmd>\r\n"
        b'  <download devtype="27" devid="21" subdevid="1" chlid="1" testid="%d" startpos="%d" '
        b'count="1000" auxid="0" />\r\n  <list count="%d">\r\n'
        % (answer_testid, startpos, len(rows))
        + b"".join(b"    " + r + b"\r\n" for r in rows) + b"  </list>" + END,
    )  # fmt: skip


def status(state: bytes) -> tuple[bytes, bytes]:
    return (
        HEAD + b'<cmd>getchlstatus</cmd><list count="1"><status ' + CH
        + b">true</status></list></bts>\n\n#\r\n",
        ANSWER + b'  <cmd>getchlstatus_resp</cmd>\r\n  <list count="1">\r\n    <status ' + CH
        + b' reservepause="0">' + state + b"</status>\r\n  </list>" + END,
    )  # fmt: skip


STOP = (
    HEAD + b'<cmd>stop</cmd><list count="1"><stop ' + CH + b">true</stop></list></bts>\n\n#\r\n",
    ANSWER + b'  <cmd>stop_resp</cmd>\r\n  <list count="1">\r\n    <stop ' + CH
    + b">ok</stop>\r\n  </list>" + END,
)  # fmt: skip


def row(seq: int, ms: int, volt: bytes, curr: bytes, cap: bytes) -> bytes:
    return (
        b'<data seqid="%d" stepid="1" cycleid="1" steptype="dc" testtime="%d" '
        b'atime="2025-12-28 22:29:05" volt="%s" curr="%s" cap="%s" eng="0" />'
        % (seq, ms, volt, curr, cap)
    )


DISCHARGE = Step(
    3,
    "discharge",
    "cc",
    ends=(EndCondition("voltage_below", 3.0), EndCondition("time", 36000.0)),
    record=RecordCriteria(every_s=10.0),
    current_A=-0.0003,
)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "steps"


def _open(peer: ScriptedPeer, folder: Path, **options: object) -> NewareInstrument:
    return open_instrument(
        f"127.0.0.1:{peer.port}",
        {"stepfile_dir": str(folder), "barcode": "cell-7", "timeout_s": 2.0, "retries": 0,
         **options},
    )  # fmt: skip


def test_a_step_from_start_to_its_end_and_the_next_until_stopped(folder: Path) -> None:
    first, second = folder / "cyclerctl-21-1-1-00001.xml", folder / "cyclerctl-21-1-1-00002.xml"
    with replay([
        CONNECT,
        GETDEVINFO,
        start(first, b"3:0:0"),  # plan index 3 from its start
        download(0, 1, [
            row(1, 0, b"3.9", b"-0.0003", b"0"),
            row(2, 10000, b"3.8", b"-0.0003", b"8.33e-07"),
            row(3, 20000, b"3.5", b"-0.0003", b"1.666e-06"),
        ], answer_testid=143),
        status(b"working"),
        download(143, 4, [row(4, 25000, b"3.0004", b"-0.0003", b"2.0825e-06")], 143),
        status(b"finish"),
        download(143, 5, [], 143),
        start(second, b"4:0:0:143:3:0:0"),  # index 4; test 143 (index 3) before it
        download(0, 1, [row(1, 0, b"3.2", b"0.0", b"0")], answer_testid=144),
        status(b"working"),
        STOP,
    ]) as peer:  # fmt: skip
        instrument = _open(peer, folder)
        try:
            assert [c.name for c in instrument.channels] == ["neware:21-1-1", "neware:21-1-2"]
            channel = instrument.channels[0]
            channel.start_step(DISCHARGE)
            assert parse_stepfile(first.read_bytes()).step.ends == DISCHARGE.ends
            a = channel.read()
            assert not a.ended
            assert a.points["t"].tolist() == [0.0, 10.0, 20.0]
            assert a.points["I"].tolist() == [-0.0003] * 3
            assert a.points["Q"] == pytest.approx([0.0, -0.0029988, -0.0059976])
            assert np.isnan(a.points["T"]).all()
            b = channel.read()
            assert b.ended and b.end_reason == "limit:voltage"
            assert b.points["V"].tolist() == [3.0004]
            assert channel.read().ended  # asks nothing more
            rest = Step(4, "rest", "rest", ends=(EndCondition("time", 600.0),),
                        record=RecordCriteria(every_s=10.0))  # fmt: skip
            channel.start_step(rest)
            c = channel.read()
            assert not c.ended and c.points["Q"].tolist() == [0.0]
            channel.stop()
        finally:
            instrument.close()  # nothing is left running: no bytes


def test_after_a_dropped_connection_it_logs_in_again_and_asks_from_the_same_record(
    folder: Path,
) -> None:
    rows = [row(n, (n - 1) * 10000, b"3.9", b"-0.0003", b"0") for n in range(1, 6)]
    again = download(143, 4, rows[3:], 143)
    with replay([
        CONNECT,
        GETDEVINFO,
        start(folder / "cyclerctl-21-1-1-00001.xml", b"3:0:0"),
        download(0, 1, rows[:3], answer_testid=143),
        status(b"working"),
        (again[0], DROP),  # the link dies with this request unanswered
        CONNECT,
        again,  # the same request on the new connection: no hole, nothing twice
        status(b"working"),
    ]) as peer:  # fmt: skip
        instrument = _open(peer, folder, retries=2, retry_initial_s=0.01)
        channel = instrument.channels[0]
        channel.start_step(DISCHARGE)
        seen = channel.read().points["t"].tolist() + channel.read().points["t"].tolist()
        assert seen == [0.0, 10.0, 20.0, 30.0, 40.0]
        assert instrument.link.reconnects == 1 and peer.connections == 2
        instrument.link.close()  # leave the scripted channel as it is: no stop in the script
