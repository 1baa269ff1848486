"""Helpers: write a protocol or cell file into tmp_path and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Protocol

import pytest

from cyclerctl.protocol import InputError, ProtocolError, load_plan

#: A small valid protocol body the error tests vary; every line number in it is known.
MINIMAL = """\
name = "minimal"

[parameters]
rate = { default = "C/10", description = "rate" }
cycles = { default = 2, description = "count", min = 1 }

[[steps]]
type = "loop"
name = "cycling"
count = "{cycles}"

  [[steps.steps]]
  type = "cc"
  current = "{rate}"
  direction = "charge"
  until = { voltage_above = "4.2 V", time = "12 h" }

  [[steps.steps]]
  type = "rest"
  until = { time = "10 min" }
"""


class Writer(Protocol):
    def __call__(self, text: str, name: str = "protocol.toml") -> Path: ...


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def _write(text: str, name: str = "protocol.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


def errors_of(
    protocol: str | Path, cell: str | Path = "ncm622-coin", **overrides: str
) -> list[InputError]:
    with pytest.raises(ProtocolError) as caught:
        load_plan(str(protocol), str(cell), overrides)
    assert str(caught.value) == "\n".join(str(e) for e in caught.value.errors)
    return caught.value.errors
