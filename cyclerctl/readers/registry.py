"""Which reader takes a file: by suffix first, then by sniffing its first bytes.

Adding a vendor: one module with a Reader, one line in READERS.
"""

from __future__ import annotations

from pathlib import Path

from cyclerctl.readers.arbin import ArbinReader
from cyclerctl.readers.base import Reader, ReadError
from cyclerctl.readers.bdf import BdfReader
from cyclerctl.readers.eclab import EcLabReader
from cyclerctl.readers.maccor import MaccorReader
from cyclerctl.readers.neware import NewareReader

__all__ = ["READERS", "claims", "reader_for"]

READERS: tuple[Reader, ...] = (  # first match wins: the order matters for sniffing
    NewareReader(),
    ArbinReader(),
    MaccorReader(),
    EcLabReader(),
    BdfReader(),
)

HEAD_BYTES = 4096


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError as exc:
        raise ReadError(path, f"cannot open ({exc.strerror or exc})") from None


def claims(path: Path) -> Reader | None:
    """The reader that takes ``path`` (None: no reader does)."""
    head = _head(path)
    for reader in READERS:
        if reader.sniff(path, head):
            return reader
    return None


def reader_for(path: Path) -> Reader:
    """The reader for ``path``; ReadError naming what is taken when none is."""
    reader = claims(path)
    if reader is None:
        known = sorted({s for r in READERS for s in r.suffixes})
        raise ReadError(path, f"no reader takes this file; known: {', '.join(known)}")
    return reader
