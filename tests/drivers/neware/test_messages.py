"""The BTS API wire: documents, framing, and each request/answer read back by the other side."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.drivers.neware import messages, parse_address
from cyclerctl.drivers.neware.messages import (
    ChannelAddress,
    FrameReader,
    ProtocolError,
    RecordRow,
)

CH1 = ChannelAddress(21, 1, 1)
CH2 = ChannelAddress(21, 2, 8, devtype=24, ip="192.168.1.20")


def _parse(text: str) -> messages.Message:
    (data,) = FrameReader().feed(messages.frame(text))
    return messages.parse(data)


def test_a_request_is_one_declared_bts_document_ended_by_a_blank_line_and_hash_crlf() -> None:
    wire = messages.frame(messages.connect_request("admin", "neware"))
    assert wire == (
        b'<?xml version="1.0" encoding="UTF-8" ?><bts version="1.0"><cmd>connect</cmd>'
        b"<username>admin</username><password>neware</password><type>bfgs</type>"
        b"</bts>\n\n#\r\n"
    )


def test_the_strict_reader_leaves_a_request_without_the_blank_line_unanswered() -> None:
    reader = FrameReader(strict=True)
    old_style = messages.getdevinfo_request().encode() + b"#\r\n"
    assert reader.feed(old_style) == []
    assert reader.pending > 0
    assert reader.leftover == old_style
    assert FrameReader(strict=True).feed(messages.frame(messages.getdevinfo_request())) == [
        messages.getdevinfo_request().encode()
    ]


def test_the_reader_waits_for_a_split_document_and_splits_coalesced_ones() -> None:
    one = messages.frame(messages.getdevinfo_request())
    two = messages.frame(messages.getchlstatus_request([CH1, CH2]))
    stream = one + two + one
    documents = [one[:-5], two[:-5], one[:-5]]
    for strict in (False, True):
        for cut in range(1, len(stream)):  # every split point, inside the terminator too
            reader = FrameReader(strict=strict)
            frames = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
            assert frames == documents
            assert reader.pending == 0
        byte_by_byte = FrameReader(strict=strict)
        assert [f for b in stream for f in byte_by_byte.feed(bytes([b]))] == documents


def test_the_reader_accepts_the_blank_lines_some_peers_put_before_the_terminator() -> None:
    reader = FrameReader()
    answer = messages.connect_response(True).encode()
    frames = reader.feed(answer + b"\n\n#\r\n" + answer[:10])
    assert frames == [answer]
    assert reader.pending == 10


def test_a_broken_document_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        messages.parse(b"<bts><cmd>connect</cmd>")
    with pytest.raises(ProtocolError):
        messages.parse(b"<other/>")
    with pytest.raises(ProtocolError):
        messages.expect(_parse(messages.getdevinfo_request()), "connect_resp")


def test_per_channel_requests_carry_the_whole_address() -> None:
    message = _parse(messages.stop_request([CH1, CH2]))
    assert message.cmd == "stop"
    items = messages.listed(message, "stop")
    assert [messages.address_of(e) for e in items] == [CH1, CH2]
    assert [e.text for e in items] == ["true", "true"]
    assert messages.listed(_parse(messages.continue_request([CH2])), "continue")[0].text == "true"
    inquire = messages.listed(_parse(messages.inquire_request([CH1])), "inquire")[0]
    assert (inquire.get("aux"), inquire.get("barcode")) == ("0", "1")


def test_start_names_the_step_file_path_and_the_barcode() -> None:
    message = _parse(messages.start_request(CH2, r"C:\steps\a.xml", "cell-7", r"D:\backup"))
    (item,) = messages.listed(message, "start")
    assert messages.address_of(item) == CH2
    assert item.text == r"C:\steps\a.xml" and item.get("barcode") == "cell-7"
    listing = message.root.find("list")
    assert listing is not None and listing.get("count") == "1"
    backup = listing.find("backup")
    assert backup is not None and backup.get("backupdir") == r"D:\backup"


def test_download_asks_by_sequence_number_at_most_1000() -> None:
    message = _parse(messages.download_request(CH1, testid=143, startpos=219576, count=1000))
    element = message.root.find("download")
    assert element is not None
    assert dict(element.attrib) == {
        "devtype": "27", "devid": "21", "subdevid": "1", "chlid": "1",
        "auxid": "0", "testid": "143", "startpos": "219576", "count": "1000",
    }  # fmt: skip
    with pytest.raises(ValueError):
        messages.download_request(CH1, testid=0, startpos=1, count=1001)


def test_answers_read_back() -> None:
    assert messages.connect_ok(_parse(messages.connect_response(True)))
    assert not messages.connect_ok(_parse(messages.connect_response(False)))
    info = messages.devinfo(
        _parse(messages.getdevinfo_response([CH1, CH2], client_version="BTS 8.0"))
    )
    assert info.channels == (CH1, CH2) and info.client_version == "BTS 8.0"
    status = _parse(messages.getchlstatus_response([(CH1, "working"), (CH2, "finish")]))
    assert messages.answers(status, "getchlstatus", "status", [CH1, CH2]) == ["working", "finish"]
    started = _parse(messages.per_channel_response("start", "start", [(CH1, "ok")]))
    assert messages.answers(started, "start", "start", [CH1]) == ["ok"]
    assert messages.answers(started, "start", "start", [CH2, CH1]) == ["false", "ok"]
    row = RecordRow(3, "dc", 3000, 3.5, -1e-3, 2e-6, 7e-6, "2025-12-28 22:29:05", 25.0)
    inquired = _parse(messages.inquire_response([(CH1, "working", row), (CH2, "stop", None)]))
    assert messages.inquired_voltage(inquired, [CH1, CH2]) == [3.5, 0.0]
    assert messages.inquired_voltage(inquired, [CH2]) == [0.0]  # picked out by address
    assert math.isnan(messages.inquired_voltage(inquired, [ChannelAddress(1, 1, 1)])[0])
    assert messages.inquired_barcode(inquired, [CH1, CH2]) == ["", ""]
    tagged = _parse(messages.inquire_response([(CH1, "working", row)], ["cell-7|cyclerctl:0:0:0"]))
    assert messages.inquired_barcode(tagged, [CH1]) == ["cell-7|cyclerctl:0:0:0"]


def test_a_status_answer_naming_the_wrong_sub_device_still_counts() -> None:
    # seen on a BTS 8 server: asked for 13-5-5, it answers for 13-1-5
    asked = ChannelAddress(13, 5, 5)
    answer = _parse(messages.getchlstatus_response([(ChannelAddress(13, 1, 5), "finish")]))
    assert messages.answers(answer, "getchlstatus", "status", [asked]) == ["finish"]


def test_download_records_decode_exactly_with_and_without_an_auxiliary_temperature() -> None:
    rows = [
        RecordRow(1, "dc", 0, 3.9, -2.95e-4, 0.0, 0.0, "2025-12-28 22:29:05", 25.5),
        RecordRow(2, "dc", 10300, 3.65799260139465, -2.95052188448608e-4,
                  8.44e-7, 3.1e-6, "2025-12-28 22:29:15", 25.25),
    ]  # fmt: skip
    for auxid in (0, 1):
        text = messages.download_response(
            CH1, testid=143, startpos=1, count=1000, auxid=auxid, records=rows
        )
        assert "<cmd>donwload_resp</cmd>" in text  # the real server's spelling
        got = messages.download(_parse(text))
        assert got.testid == 143
        assert got.records["seqid"].tolist() == [1, 2]
        assert got.records["t"].tolist() == [0.0, 10.3]
        assert got.records["V"].tolist() == [3.9, 3.65799260139465]
        assert got.records["I"].tolist() == [-2.95e-4, -2.95052188448608e-4]
        assert got.records["cap_Ah"].tolist() == [0.0, 8.44e-7]
        if auxid:
            assert got.records["T_C"].tolist() == [25.5, 25.25]
        else:
            assert np.isnan(got.records["T_C"]).all()


def test_a_download_answer_as_a_bts_8_server_formats_it_decodes() -> None:
    # the layout of a captured answer: CRLF, indentation, no auxtemp, text after </bts>
    raw = (
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n<bts version="1.0">\r\n'
        b"  <cmd>donwload_resp</cmd>\r\n"
        b'  <download devtype="27" devid="21" subdevid="1" chlid="1" testid="143" '
        b'startpos="10" count="1000" auxid="0" />\r\n  <list count="1">\r\n'
        b'    <data seqid="10" stepid="24" cycleid="29" steptype="dc" testtime="36080300" '
        b'atime="2025-12-28 22:29:15" volt="3.6" curr="-0.0003" cap="0.003" eng="0.01" />\r\n'
        b"  </list>\r\n</bts>\n\n#\r\n"
    )
    (frame,) = FrameReader().feed(raw)
    got = messages.download(messages.parse(frame))
    assert got.records["seqid"].tolist() == [10]
    assert got.records["t"][0] == pytest.approx(36080.3)
    assert math.isnan(got.records["T_C"][0])


def test_addresses() -> None:
    assert parse_address("10.0.0.5:502") == ("10.0.0.5", 502)
    assert parse_address("127.0.0.1") == ("127.0.0.1", 502)
    assert parse_address("TCPIP0::127.0.0.1::5025::SOCKET") == ("127.0.0.1", 5025)
    with pytest.raises(ValueError):
        parse_address("host:port")
