"""Charge and cycle numbers of EC-Lab points, as EC-Lab itself counts them.

What EC-Lab writes (seen in the real files of ``../shared/data/eclab`` and
``../shared/data/biologic-gcpl``):

- ``half cycle`` goes up when the current changes sign; a rest (I = 0) stays in the half
  cycle it follows. Under "Charge/Discharge alternance" a charge always gets an even number:
  a run that begins with a discharge has it in half cycle 0 (with the opening rest) and the
  first charge in half cycle 2 (``jdb11-*.mpr``).
- ``Q charge/discharge/mA.h`` is the charge since the current half cycle began; it is reset
  only at a half-cycle change, so the rest that follows a discharge still reads the whole
  discharge (``gcpl.issue_149.mpt``, rows after each discharge). Counted as "charge since
  the step began" it would be counted twice.
- ``(Q-Qo)/mA.h`` is reset at each loop of the technique (same file), so it is no run total.
- ``dq/mA.h`` is the charge of each point alone.
- ``cycle number`` follows the file's ``Cycle Definition``: with "Charge/Discharge
  alternance" a cycle is a charge and the discharge after it, a new cycle beginning at each
  charge that follows a discharge; with "Discharge/Charge alternance" it is the other way
  round. ``.mpr`` files read by galvani may lack the column; then it is rebuilt from the
  half cycles and the definition by that rule (:func:`cycle_index`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: EC-Lab's "Cycle Definition" → sign of the current of the half cycle that opens a cycle.
CYCLE_DEFINITIONS: dict[str, int] = {
    "Charge/Discharge alternance": +1,
    "Discharge/Charge alternance": -1,
}
#: EC-Lab's default setting, used when no header of the file's measurement can be found.
DEFAULT_CYCLE_DEFINITION = "Charge/Discharge alternance"
_LINE = re.compile(r"^\s*Cycle Definition\s*:\s*(.*?)\s*$")


def parse_cycle_definition(lines: list[str], source: str) -> str | None:
    """The ``Cycle Definition`` a header states, or None when it states none.

    ValueError (with the file and line) for a definition EC-Lab is not known to write.
    """
    for number, line in enumerate(lines, start=1):
        match = _LINE.match(line)
        if match is None:
            continue
        text = match.group(1)
        for name in CYCLE_DEFINITIONS:
            if text.lower() == name.lower():
                return name
        allowed = " or ".join(repr(n) for n in CYCLE_DEFINITIONS)
        raise ValueError(f"{source}:{number}: Cycle Definition {text!r}: expected {allowed}")
    return None


def header_lines(path: Path) -> list[str]:
    """The text lines before the data of an EC-Lab text file (.mpt, .mps, .mpl)."""
    lines: list[str] = []
    with open(path, encoding="latin-1", newline=None) as f:
        for line in f:
            if line.startswith(("mode\t", "freq/Hz\t", "time/s\t")) or len(lines) > 5000:
                break
            lines.append(line.rstrip("\r\n"))
    return lines


def settings_files(mpr: Path) -> list[Path]:
    """Text files beside an .mpr that carry its settings header, best first.

    EC-Lab names a data file ``<settings stem>_C<channel>.mpr`` (or after its .mps), and
    writes an ``.mpl`` log and, on export, an ``.mpt`` of the same stem.
    """
    same = [mpr.with_suffix(s) for s in (".mpt", ".mpl", ".mps")]
    found = [p for p in same if p.is_file()]
    prefixed = sorted(
        (p for p in mpr.parent.glob("*.mps") if mpr.stem.startswith(p.stem + "_")),
        key=lambda p: len(p.stem),
        reverse=True,
    )
    return found + prefixed


def half_cycles(I: NDArray[Any]) -> NDArray[np.int64]:
    """Half-cycle numbers counted as EC-Lab does when a file lacks the column: up by one
    at each change of the current's sign, a rest staying in the half cycle before it."""
    sign = np.sign(I).astype(np.int64)
    nonzero = np.flatnonzero(sign)
    if nonzero.size == 0:
        return np.zeros(I.size, dtype=np.int64)
    # carry the last nonzero sign forward over rests (and the first one backward)
    index = np.maximum.accumulate(np.where(sign != 0, np.arange(I.size), -1))
    held = np.where(index >= 0, sign[np.maximum(index, 0)], sign[nonzero[0]])
    change = np.concatenate(([0], (held[1:] != held[:-1]).astype(np.int64)))
    return np.cumsum(change)


def charge_since_step_began_C(
    step: NDArray[Any], half: NDArray[Any], q_half_mAh: NDArray[Any]
) -> NDArray[np.float64]:
    """Charge since each step began (C) from EC-Lab's charge since the half cycle began.

    A step that begins inside a half cycle (a rest after a discharge, the CV after a CC of
    a Modulo Bat) starts from what the half cycle had already passed, not from zero.
    """
    n = step.size
    starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
    carried = np.zeros(starts.size)
    inside = starts > 0
    prev = starts[inside] - 1
    same_half = half[starts[inside]] == half[prev]
    carried[inside] = np.where(same_half, q_half_mAh[prev], 0.0)
    base = np.repeat(carried, np.diff(np.append(starts, n)))
    return np.asarray((q_half_mAh - base) * 3.6, dtype=np.float64)


def cycle_index(half: NDArray[Any], dq: NDArray[Any], lead: int) -> NDArray[np.int64]:
    """EC-Lab's ``cycle number`` (from 0) rebuilt from half cycles and the Cycle Definition.

    ``lead`` is the sign of the half cycle that opens a cycle (+1: charge first). A half
    cycle's sign is that of its net charge; a new cycle begins at a ``lead`` half cycle that
    follows one of the other sign; a half cycle without charge (a rest) joins the cycle it
    is in.
    """
    cycle = np.zeros(half.size, dtype=np.int64)
    if half.size == 0:
        return cycle
    starts = np.flatnonzero(np.concatenate(([True], half[1:] != half[:-1])))
    ends = np.append(starts[1:], half.size)
    current, seen_other = 0, False
    for a, b in zip(starts, ends, strict=True):
        net = float(np.sum(dq[a:b]))
        sign = 0 if net == 0.0 else (1 if net > 0 else -1)
        if sign == lead and seen_other:
            current, seen_other = current + 1, False
        elif sign == -lead:
            seen_other = True
        cycle[a:b] = current
    return cycle
