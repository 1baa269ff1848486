"""The .mps we write has the layout EC-Lab writes (checked against the real files)."""

from __future__ import annotations

import re

import pytest

from cyclerctl.protocol.compiler import load_plan
from cyclerctl.protocol_io import export_protocol
from cyclerctl.protocol_io.eclab_export import ROWS
from cyclerctl.protocol_io.eclab_text import COLUMN, parse_settings

from .conftest import real_file

HEADER_ORDER = ("Ewe ctrl range", "Safety Limits", "Battery capacity",
                "Electrode surface area", "Characteristic mass", "Cycle Definition")  # fmt: skip


def header_keys(text: str) -> list[str]:
    head = text.split("Technique : 1")[0]
    keys = [line.split(" :")[0] for line in head.splitlines() if " :" in line]
    return [k for k in keys if k in HEADER_ORDER]


def test_layout_matches_ec_labs_own_files() -> None:
    real = real_file("jdb11-4.mps").read_bytes()
    ours = export_protocol(load_plan("ncm622-cycling", "ncm622-coin"), "mps")
    assert isinstance(ours, bytes)
    for data in (real, ours):
        assert data.startswith(b"EC-LAB SETTING FILE\r\n\r\nNumber of linked techniques : 1\r\n")
        assert b"\r\n\r\nTechnique : 1\r\n" in data
        assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF lines only
    assert b"\xb5A" in ours and "µA".encode() not in ours  # µ as one cp1252 byte, as EC-Lab
    assert header_keys(real.decode("cp1252")) == header_keys(ours.decode("cp1252"))
    assert header_keys(real.decode("cp1252")) == list(HEADER_ORDER)
    text = ours.decode("cp1252")
    body = text.split("Modulo Bat\r\n")[1].rstrip("\r\n").split("\r\n")
    n = len(parse_settings(ours, "x").techniques[0].rows[0][1])
    for line in body:
        assert len(line) == COLUMN * (n + 1), line  # 20-character columns, as EC-Lab pads
    labels = [line[:COLUMN].strip() for line in body]
    assert labels[: len(ROWS)] == list(ROWS)
    # three decimals in the unit the value is written in, as both real files do
    assert re.search(r"^Is {18}0\.000 {15}-115\.130", real.decode("cp1252"), re.MULTILINE)
    assert re.search(r"^ctrl1_val {11}19\.792 ", text, re.MULTILINE)


def test_every_sequence_has_its_columns() -> None:
    ours = export_protocol(load_plan("ncm622-cycling", "ncm622-coin"), "mps")
    settings = parse_settings(ours, "x")
    (technique,) = settings.techniques
    ns = technique.get("Ns", 11)
    assert ns == "11" and technique.get("ctrl_type", 11) == "Loop"
    assert technique.get("ctrl_seq", 11) == "6" and technique.get("ctrl_repeat", 11) == "99"


@pytest.mark.parametrize("fmt", ["mps", "neware-xml", "pybamm"])
def test_an_unknown_format_is_named(fmt: str) -> None:
    from cyclerctl.protocol_io import EXPORT_FORMATS, ProtocolIOError

    assert fmt in EXPORT_FORMATS
    with pytest.raises(ProtocolIOError, match="unknown format 'xlsx'; the formats are: mps"):
        export_protocol(load_plan("ncm622-cycling", "ncm622-coin"), "xlsx")
