"""What the driver writes into a BTS test's barcode, so that the next daemon knows the test.

The cycler counts a test's record times and capacity from 0. A step started part-way (after
a pause, or restarted from its progress after a crash) is such a test: its records say
nothing of where in the step it began, so a daemon that crashed meanwhile could not tell
where the stored data ends in it. The driver therefore starts every test with a barcode
that carries the step's plan index and the step's elapsed time and charge when the test
began; ``inquire`` (asked with ``barcode="1"``) gives it back for the channel's latest test.

A test that starts a new step also names the test before it (its id and tag): a daemon
that died after the step before had ended on board, but before its end was committed,
leaves the database one step behind the cycler, and the next daemon finds the rest of
that step there (BTS keeps every test's records, downloadable by test id).

The lab's own barcode (the ``barcode`` option) comes first, unchanged: ``cell-7|cyclerctl:
3:1200.0:-0.36`` (step index 3 entered at 1200 s and -0.36 C), ``cell-7|cyclerctl:4:0:0:
17:3:1200.0:-0.36`` (step index 4 from its start; test 17, index 3, before it). A barcode
that is not ours (an operator's test) parses to None. Unconfirmed on a BTS: that
``inquire`` echoes the barcode given to ``start``, and how long a barcode may be (about
20 characters per test named here, ``CHAIN`` + 1 tests at most).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MARK = "|cyclerctl:"
#: How many tests before it a test's tag names: the steps a dying daemon can have begun
#: after its last commit (a commit comes at least every second; at an emulator's 2000x a
#: 2-minute rest lasts 60 ms, so a few steps fit in that second).
CHAIN = 4


@dataclass(frozen=True, slots=True)
class StepTag:
    """The step a test runs (its Plan index) and where in that step the test began.

    ``previous``: the test id and tag of the test this channel ran before, when this one
    starts a new step (that tag names its own previous one: up to ``CHAIN`` in all). If a
    daemon dies before it committed the end of those steps, the next one finds their
    remaining records and ends there.
    """

    plan_index: int
    elapsed_s: float = 0.0  # step time at the test's record time 0
    charge_C: float = 0.0  # step charge (signed) at the test's capacity 0
    previous: tuple[int, StepTag] | None = None

    @property
    def at_step_start(self) -> bool:
        return self.elapsed_s == 0 and self.charge_C == 0

    def after(self, testid: int, before: StepTag) -> StepTag:
        """This tag naming test ``testid`` (tagged ``before``) as the one before it."""
        return StepTag(
            self.plan_index, self.elapsed_s, self.charge_C, (testid, before._cut(CHAIN - 1))
        )

    def chain(self) -> list[tuple[int, StepTag]]:
        """The tests before this one, the latest first: (test id, tag without its chain)."""
        found: list[tuple[int, StepTag]] = []
        tag = self
        while tag.previous is not None:
            testid, tag = tag.previous
            found.append((testid, StepTag(tag.plan_index, tag.elapsed_s, tag.charge_C)))
        return found

    def barcode(self, lab_barcode: str) -> str:
        fields = [_fields(self)] + [f"{testid}:{_fields(tag)}" for testid, tag in self.chain()]
        return f"{lab_barcode}{MARK}{':'.join(fields)}"

    def _cut(self, depth: int) -> StepTag:
        if self.previous is None:
            return self
        if depth <= 0:
            return StepTag(self.plan_index, self.elapsed_s, self.charge_C)
        testid, before = self.previous
        return StepTag(
            self.plan_index, self.elapsed_s, self.charge_C, (testid, before._cut(depth - 1))
        )

    @classmethod
    def parse(cls, barcode: str) -> StepTag | None:
        """The tag in a test's barcode; None when there is none or it does not parse."""
        _, mark, tail = barcode.rpartition(MARK)
        if not mark:
            return None
        parts = tail.split(":")
        if len(parts) < 3 or (len(parts) - 3) % 4:
            return None
        try:
            tags = [_tag(parts[:3])]
            testids = []
            for i in range(3, len(parts), 4):
                testids.append(int(parts[i]))
                tags.append(_tag(parts[i + 1 : i + 4]))
            if any(testid <= 0 for testid in testids):
                return None
        except ValueError:
            return None
        tag = tags[-1]
        for testid, newer in zip(reversed(testids), reversed(tags[:-1]), strict=True):
            tag = cls(newer.plan_index, newer.elapsed_s, newer.charge_C, (testid, tag))
        return tag


def _fields(tag: StepTag) -> str:
    return f"{tag.plan_index}:{_number(tag.elapsed_s)}:{_number(tag.charge_C)}"


def _number(value: float) -> str:
    return "0" if value == 0 else repr(value)  # repr: the float back exactly


def _tag(parts: list[str]) -> StepTag:
    index, elapsed, charge = int(parts[0]), float(parts[1]), float(parts[2])
    if index < 0 or not (math.isfinite(elapsed) and math.isfinite(charge)) or elapsed < 0:
        raise ValueError("not a step tag")
    return StepTag(index, elapsed, charge)
