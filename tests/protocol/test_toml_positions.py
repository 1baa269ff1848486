from __future__ import annotations

import pytest

from cyclerctl.protocol import ProtocolError
from cyclerctl.protocol.toml_positions import key_lines, parse_toml

TEXT = '''\
name = "x"                      # 1
description = """two            # 2
lines with a [[fake]] header"""
[parameters]                    # 4
a = { default = "1 V", min = "0 V" }
"quoted.key" = { default = 1 }  # 6

[[steps]]                       # 8
type = "loop"
count = 2
  [[steps.steps]]               # 11
  type = "rest"
  until = { time = "1 h",
            charge = "1 mAh" }  # 14
  [[steps.steps]]               # 15
  type = "cc"
  current = 'C/10'
[[steps]]                       # 18
type = "rest"
record.every = "1 s"            # 20
to = [ "1 V",
       "2 V" ]                  # 22
'''


def test_every_key_path_has_its_line() -> None:
    lines = key_lines(TEXT)
    assert lines[("name",)] == 1
    assert lines[("description",)] == 2
    assert lines[("parameters",)] == 4
    assert lines[("parameters", "a", "min")] == 5
    assert lines[("parameters", "quoted.key", "default")] == 6
    assert lines[("steps", 0)] == 8
    assert lines[("steps", 0, "count")] == 10
    assert lines[("steps", 0, "steps", 0)] == 11
    assert lines[("steps", 0, "steps", 0, "until")] == 13
    assert lines[("steps", 0, "steps", 0, "until", "time")] == 13
    assert lines[("steps", 0, "steps", 0, "until", "charge")] == 14
    assert lines[("steps", 0, "steps", 1)] == 15
    assert lines[("steps", 0, "steps", 1, "current")] == 17
    assert lines[("steps", 1)] == 18
    assert lines[("steps", 1, "record", "every")] == 20
    assert lines[("steps", 1, "to", 1)] == 22
    assert ("fake",) not in lines


def test_syntax_error_has_its_line() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_toml('name = "x"\n[[steps]]\ntype = rest\n', "p.toml")
    (error,) = caught.value.errors
    assert (error.path, error.line, error.field) == ("p.toml", 3, "TOML syntax")
    assert str(error).startswith("p.toml:3: TOML syntax: ")


def test_scanner_never_raises_on_odd_text() -> None:
    assert key_lines('a = "unterminated') == {("a",): 1}
