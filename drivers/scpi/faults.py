"""Fault hooks on the SCPI emulator's messages, for tests: replies garbled or cut short,
queries lost (the client times out), commands refused with an error code, and any of these
(or a dropped link) at a chosen :READ? of a run. The connection-level hooks (a dropped link,
an instrument offline) are on :class:`.emulator.ScpiEmulator` itself."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

GARBLE_KINDS = ("junk", "short")
REQUEST_LOG = 2000  # program messages the emulator remembers
#: error codes a refusal may carry (the emulator's MESSAGES has the text of each)
REFUSAL_CODES = frozenset({-310, -363, 900})


class WireFaults:
    """What happens to the next program messages and replies; thread-safe."""

    def __init__(self) -> None:
        self._faults = threading.Lock()
        self._garble: list[str] = []  # kinds of the next replies to corrupt
        self._silence = 0  # queries still to lose
        self._refuse: list[int] = []  # error codes of the next commands to refuse
        self._scheduled: list[tuple[int, Callable[[], None]]] = []  # (:READ? to go, action)
        #: the latest program messages received, oldest first (for tests)
        self.requests: deque[str] = deque(maxlen=REQUEST_LOG)

    def garble_next(self, n: int = 1, *, kind: str = "junk") -> None:
        """Corrupt the next ``n`` replies: ``"junk"`` (half the reply, then bytes that are
        not ASCII) or ``"short"`` (the reply without its last comma-separated field)."""
        if kind not in GARBLE_KINDS:
            raise ValueError(f"garble kind is one of {GARBLE_KINDS}, not {kind!r}")
        with self._faults:
            self._garble.extend([kind] * n)

    def silence_next(self, n: int = 1) -> None:
        """Lose the next ``n`` queries: not executed, not answered (the client times out)."""
        with self._faults:
            self._silence += n

    def refuse_next(self, code: int = 900, n: int = 1) -> None:
        """Refuse the next ``n`` commands (not queries): not executed, ``code`` queued."""
        if code not in REFUSAL_CODES:
            raise ValueError(f"error code {code}: one of {sorted(REFUSAL_CODES)}")
        with self._faults:
            self._refuse.extend([code] * n)

    def after_reads(self, n: int, action: Callable[[], None]) -> None:
        """Run ``action`` (a fault hook) when the ``n``-th :READ? from now arrives, before it
        is handled: a fault in the middle of a step, wherever the step is."""
        if n < 1:
            raise ValueError(f"after_reads: n is 1 or more, not {n}")
        with self._faults:
            self._scheduled.append((n, action))

    def take_fault(self, line: str) -> str | int | None:
        """What happens to this program message: "silence", an error code, or None."""
        due: list[Callable[[], None]] = []
        with self._faults:
            self.requests.append(line)
            if line.upper().lstrip(":").startswith("READ"):
                left = [(n - 1, a) for n, a in self._scheduled]
                due = [a for n, a in left if n == 0]
                self._scheduled = [(n, a) for n, a in left if n > 0]
        for action in due:
            action()
        with self._faults:
            if "?" in line:
                if self._silence:
                    self._silence -= 1
                    return "silence"
            elif self._refuse:
                return self._refuse.pop(0)
        return None

    def take_garble(self) -> str | None:
        with self._faults:
            return self._garble.pop(0) if self._garble else None
