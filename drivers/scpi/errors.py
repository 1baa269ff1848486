"""The emulated SourceMeter's SCPI error model: the codes it queues, their texts, and the
error queue read with ``:SYSTem:ERRor?``.

Series 2400 behaviour (2400S-900-01 Rev. K, appendix B "Status and Error Messages"): errors
wait in a queue of 10, oldest first; a full queue keeps its first nine and replaces the
last with ``-350,"Queue overflow"``; an empty queue answers ``0,"No error"``. The sign of the
instrument-specific codes (+803 written ``803``) is not confirmed.
"""

from __future__ import annotations

from collections import deque

from .faults import REFUSAL_CODES

ERROR_QUEUE_SIZE = 10
NO_ERROR = '0,"No error"'

MESSAGES = {
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -222: "Parameter data out of range",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
    803: "Not permitted with OUTPUT off",
    900: "Internal System Error",
    -310: "System error",
    -363: "Input buffer overrun",
}
#: A refused :READ? sends nothing at all (the client times out and reads the queue).
OUTPUT_OFF = 803

assert MESSAGES.keys() >= REFUSAL_CODES  # a refusal hook queues a code the queue can name


class ScpiFault(Exception):
    """A command the instrument refuses: it queues ``code`` and carries on."""

    def __init__(self, code: int) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


class ErrorQueue:
    """The instrument's error queue (not thread-safe: its owner holds the lock)."""

    def __init__(self, size: int = ERROR_QUEUE_SIZE) -> None:
        self._size = size
        self._codes: deque[int] = deque()

    def put(self, code: int) -> None:
        if len(self._codes) >= self._size:
            self._codes[-1] = -350
        else:
            self._codes.append(code)

    def next_reply(self) -> str:
        """What ``:SYSTem:ERRor?`` answers: the oldest error, or ``0,"No error"``."""
        if not self._codes:
            return NO_ERROR
        code = self._codes.popleft()
        return f'{code},"{MESSAGES[code]}"'

    def clear(self) -> None:
        self._codes.clear()
