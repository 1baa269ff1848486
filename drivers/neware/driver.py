"""Neware BTS cyclers through the BTS API (TCP, XML): one step file per step, records by seq.

A channel runs each step on board: ``start_step`` writes the step as a step file (see
``stepfile``) where the BTS client can read it and ``start``s it; ``read`` downloads the
records the cycler has buffered since the last sequence number the driver holds, so a lost
connection costs nothing: after the reconnect the next download starts where the last one
ended (no hole, no duplicate). When a download comes back short, ``getchlstatus`` says
whether the test has ended (finish / stop / protect); then a last download collects what
was recorded meanwhile.

The cycler does not say which limit ended a step. The driver knows the limits it wrote, so
it reads the end from the last record: time or charge reached (exact to a millisecond or a
part per million), else the voltage or current limit the last point lies closest to.

After a crash, ``reattach`` finds the step on board by the tag the driver writes into each
test's barcode (``tag``: the step's plan index, where in the step the test began, and the
tests before it), so a test started part-way, one that ended while no daemon watched, and
the next steps' tests begun by a daemon that died before committing them are all taken
over instead of run twice.

Records → SAMPLE_DTYPE: ``testtime`` (ms, from the step's start) → t (s, plus the elapsed
time of a resumed step), ``volt`` → V, ``curr`` → I (A, signed), ``cap`` (Ah, unsigned) →
Q = direction × cap (C, plus a resumed step's charge), ``auxtemp`` (°C, only with an
``auxid``) → T (K), NaN otherwise.

Channels: ``getdevinfo`` marks each channel ``true`` or ``false``. In the captured BTS 8.0
answers (aurora-neware ``tests/mocks.py``) ``false`` marks exactly the channels the same
capture shows working on someone's test; a disabled channel may be marked so too. So a
``false`` channel is not offered (``NewareInstrument.unavailable`` says why), unless its
latest test carries this driver's tag (``inquire``): a test a crashed daemon began, that
the next one must take over. A channel named in the ``channels`` option keeps its place
(a daemon numbers its channels by that list) and refuses a step with the reason while
``getdevinfo`` still marks it false.

Each ``start`` carries the ``<backup …/>`` element both public clients send (aurora-neware
``NewareAPI.start``; a public client's self-test), ``backupdir`` from ``bts_backup_dir``.

A CV hold's current limit (step file ``Curr``) is the protocol's: the step's own current
when it names one, else the current of the CC step this channel ran before it (as
aurora-unicycler writes a CV after a CC), else ``cv_current_limit_A``, else the channel
maximum with a warning (after a resume the step before is not known to the driver).

A CC-CV step is one test of two parts, a CC then a CV (see ``stepfile``): BTS counts each
part's ``testtime`` and ``cap`` from 0, so the driver adds the CC part's last record to the
CV part's (``stepid`` 2; its record at 0 is the switch instant, kept once), and holds the
whole step to its time and charge limits itself, stopping the test on the first record
that reaches one and keeping nothing after it. Across the switch two stored points may lie
up to two record intervals apart (each part records on its own grid).

Not run against a real cycler; the wire shapes and what is unconfirmed are in ``messages``
and ``stepfile``, and in one list in the package's ``UNCONFIRMED``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from cyclerctl.plan import EndCondition, RecordCriteria, Step

from ..base import (
    SAMPLE_DTYPE,
    Capabilities,
    Identity,
    Samples,
    StepProgress,
    check_runnable,
    empty_samples,
)
from . import messages
from .link import Link
from .messages import ENDED_STATES, MAX_DOWNLOAD, ChannelAddress, ProtocolError
from .stepfile import (
    NATIVE_CONDITIONS,
    STEP_KINDS,
    StepFile,
    build_stepfile,
    parse_stepfile,
    with_progress,
)
from .tag import StepTag

C_PER_AH = 3600.0
KELVIN_AT_0_C = 273.15
#: Tolerances for reading the end from the last record: testtime is whole milliseconds.
TIME_TOLERANCE_S = 2e-3
CHARGE_TOLERANCE = 1e-6
#: After ``stop``, how often to ask before starting the next step (≈ 15 s in all).
IDLE_POLLS = 20
#: ``<backup backupdir>`` of a start when the options name none: aurora-neware's default.
DEFAULT_BACKUP_DIR = "C:\\Neware data"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """What every channel of one instrument shares (from the driver options)."""

    virtual_time: bool = False
    record_interval_s: float = 1.0  # when a step names no record criterion
    stepfile_dir: Path | None = None  # None: a private temporary folder per instrument
    bts_stepfile_dir: str | None = None  # the same folder as the BTS client sees it
    barcode: str = "cyclerctl"
    auxid: int = 0  # >0: read the auxiliary temperature channel with this id
    current_max_A: float = 0.1
    voltage_range_V: tuple[float, float] = (-5.0, 5.0)
    download_records: int = MAX_DOWNLOAD  # records asked for per download (1…1000)
    bts_backup_dir: str = DEFAULT_BACKUP_DIR  # where BTS backs the test's data up (its PC)
    cv_current_limit_A: float | None = None  # a CV hold's limit with nothing before it

    def __post_init__(self) -> None:
        if not 1 <= self.download_records <= MAX_DOWNLOAD:
            raise ValueError(f"download_records must be 1…{MAX_DOWNLOAD}")

    @property
    def folder(self) -> Path:
        if self.stepfile_dir is None:
            raise RuntimeError("no step file folder set")
        return self.stepfile_dir

    def bts_path(self, name: str) -> str:
        if self.bts_stepfile_dir is None:
            return str(self.folder / name)
        folder = self.bts_stepfile_dir.rstrip("/\\")
        separator = "\\" if "\\" in folder else "/"  # a Windows path as the BTS PC sees it
        return folder + separator + name


@dataclass(slots=True)
class _Test:
    """The step running on the channel as one BTS test."""

    step: Step  # as the step file states it (its limits only; a resumed step's reduced)
    direction: float  # +1 charge, -1 discharge, 0 rest: the sign of Q
    t_offset: float
    q_offset: float
    testid: int = 0  # 0 (the latest test) until the first download names it
    next_seq: int = 1
    stop_sent: bool = False
    ended: bool = False
    end_reason: str | None = None
    last: tuple[float, float, float, float] | None = None  # t, V, I, cap (Ah) of the test
    tag: StepTag | None = None  # what its barcode says (None: not ours)
    state: str | None = None  # its end state when known without asking (an earlier test)
    pending: np.ndarray | None = None  # points to hand over before its own (SAMPLE_DTYPE)
    # a CC-CV's second part counts its time and capacity from 0: where the first ended
    first_part_last: tuple[float, float] = (0.0, 0.0)  # t (s), cap (Ah) of its last record
    second_part_from: tuple[float, float] | None = None  # set at its first record
    idle_due: bool = False  # the driver stopped it on the whole step's limit: wait for idle
    got: int = 0  # records the last download brought (before any was dropped)


class NewareChannel:
    def __init__(
        self,
        instrument: NewareInstrument,
        address: ChannelAddress,
        settings: ChannelSettings,
        *,
        refusal: str | None = None,
    ) -> None:
        self._instrument = instrument
        #: why this channel is not usable (getdevinfo marked it false at connect); None: it is
        self.refusal = refusal
        self.address = address
        self._settings = settings
        self._capabilities = Capabilities(
            voltage_range_V=settings.voltage_range_V,
            current_max_A=settings.current_max_A,
            step_kinds=STEP_KINDS,
            native_end_conditions=NATIVE_CONDITIONS,
            virtual_time=settings.virtual_time,
        )
        self._test: _Test | None = None
        #: found by reattach: the tests of the next steps, begun on board by a daemon that
        #: died before it committed them, the oldest first (test id, 0 the latest; its tag)
        self._next: list[tuple[int, StepTag]] = []
        #: found by reattach: a test of the step stopped on board, its points after where
        #: the stored data ends; start_step hands them over and goes on after them
        self._leftover: tuple[int, StepProgress, np.ndarray] | None = None
        self._last_V: float | None = None
        self._files = 0
        #: |current| of the last CC / CC-CV step this channel started: a CV hold's limit
        self._last_current_A: float | None = None

    @property
    def name(self) -> str:
        return f"neware:{self.address.key}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def running(self) -> bool:
        """A step is on the channel that neither ended nor was told to stop."""
        test = self._test
        return test is not None and not test.ended and not test.stop_sent

    # -- Channel ---------------------------------------------------------------------------

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        check_runnable(step)
        self._check_usable(step)
        progress = progress or StepProgress()
        if self._adopt_next(step, progress):
            return  # the dead daemon had started it already
        pending = self._take_leftover(step, progress)
        if pending is not None:  # the cell is where the stopped test's last point is
            progress = StepProgress(float(pending["t"][-1]), float(pending["Q"][-1]))
            self._last_V = float(pending["V"][-1])
        if self.running:
            self.stop()  # a new step ends the one before, as on any channel
        if self._test is not None and not self._test.ended:
            self._wait_until_idle(self._test)  # BTS starts nothing on a working channel
        elif self._test is not None and self._test.idle_due:
            self._wait_until_idle(self._test, keep_end=True)  # stopped by the driver
        cv_charge = None
        if step.kind == "cv" and isinstance(step.voltage_V, float | int):
            cv_charge = step.voltage_V >= self._present_voltage()
        text, file = self._stepfile(step, progress, cv_charge)
        self._files += 1
        file_name = f"cyclerctl-{self.address.key}-{self._files:05d}.xml"
        self._settings.folder.mkdir(parents=True, exist_ok=True)
        (self._settings.folder / file_name).write_text(text, encoding="utf-8")
        tag = StepTag(step.index, progress.elapsed_s, progress.charge_C)
        before = self._test
        if tag.at_step_start and before is not None and before.testid and before.tag:
            tag = tag.after(before.testid, before.tag)
        bts_path = self._settings.bts_path(file_name)
        request = messages.start_request(
            self.address,
            bts_path,
            tag.barcode(self._settings.barcode),
            self._settings.bts_backup_dir,
        )
        reconnects = self._instrument.link.reconnects
        (answer,) = messages.answers(
            self._instrument.transact(request), "start", "start", [self.address]
        )
        if answer != "ok":
            # lost answer: the first try may have started it before the link dropped
            state = self._status()
            if not (self._instrument.link.reconnects > reconnects and state == "working"):
                raise RuntimeError(
                    f"{self.name}: the cycler refused to start step {step.name!r} "
                    f"(answer {answer!r}, channel {state}); if the channel was free, BTS "
                    f"could not open the step file it was sent, {bts_path!r}: check that "
                    "stepfile_dir is shared with the BTS PC and bts_stepfile_dir names it "
                    "as the BTS PC sees it"
                )
        if step.kind in ("cc", "cccv") and isinstance(step.current_A, float | int):
            self._last_current_A = abs(float(step.current_A))
        # the limits as the file states them: what the end is read against
        self._test = _Test(
            file.step, file.direction, progress.elapsed_s, progress.charge_C, tag=tag
        )
        self._test.pending = pending

    def read(self) -> Samples:
        test = self._test
        if test is None:
            return Samples(ended=True)
        if test.ended:
            return Samples(ended=True, end_reason=test.end_reason)
        blocks = [self._download(test)]
        if test.got < self._settings.download_records:
            state = test.state or self._status()
            if state in ENDED_STATES:
                # the test is over: collect what was recorded since the download above
                while test.got > 0:
                    blocks.append(self._download(test))
                test.ended = True
                test.end_reason = self._end_reason(test, state)
        records = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        hit = _whole_step_limit(test.step, records) if test.step.kind == "cccv" else None
        if hit is not None:
            # a CC-CV's time or charge limit, over both parts: BTS holds each part to it
            # from the part's own 0, so the driver ends the test here and drops the rest
            index, reason = hit
            records = records[: index + 1]
            r = records[index]
            test.last = (float(r["t"]), float(r["V"]), float(r["I"]), float(r["cap_Ah"]))
            if not test.ended and not test.stop_sent and test.state is None:
                self._instrument.transact(messages.stop_request([self.address]))
                test.stop_sent = test.idle_due = True
            test.ended, test.end_reason = True, reason
        points = self._points(test, records)
        if test.pending is not None:
            points, test.pending = np.concatenate([test.pending, points]), None
        return Samples(points, ended=test.ended, end_reason=test.end_reason)

    def reattach(self, step: Step, progress: StepProgress) -> bool:
        """Take over ``step`` if the channel's latest test is it (see ``engine.reattach``).

        The latest test is this step when its barcode's tag (``tag``) names the step's plan
        index and its records are of the step's type; the tag also says where in the step
        the test began (a test started part-way counts from 0 on board). Then either the
        stored data ends where the test began (or before: the last points were never
        committed), and reading starts at its first record; or one record lies where the
        stored data ends: at the same step time (to the millisecond) and charge, and reading
        continues after it (the engine drops anything at or before it again). That holds for
        a test still working and for one that ended on board meanwhile (finish, protect):
        its remaining records and its end are handed over, the step is never run twice.

        When the latest test is a *later* step's, begun from its start after this step's
        test (its tag names the tests before it), this step ended on board and its end was
        never committed: its remaining records and end come from its own (earlier) test,
        and ``start_step`` of each next step takes over the test that step had on board.
        Among tests of the same plan index (a loop), the newest that fits is taken: at a
        step's very start, with loop steps shorter than a commit interval (an emulator's
        speed), that may be a later iteration's.

        A test without our tag (an older driver's) counts as begun at the step's start, and
        at progress 0 is taken over only while working (an ended one may be the step
        before). A stopped test is not taken over (the operator or a pause stopped it: the
        engine restarts the step from its progress), but the points it measured after the
        stored data ends are kept: ``start_step`` of the step hands them over first and
        starts the new test where they end, so the cell's history has no hole. A test
        still working that is not this step is stopped, so that the step can be restarted.
        """
        check_runnable(step)
        self._test, self._next, self._leftover = None, [], None
        if self.refusal is not None:
            return False  # someone else's test: never ours to take over or stop
        state = self._status()
        if state not in ("working", "finish", "protect", "stop"):
            return False
        tag = self._latest_tag()
        # the latest test, then the ones before it its tag names (each ended before the
        # next began): the newest that is this step and holds where the stored data ends
        tests: list[tuple[int, StepTag | None]] = [(0, tag)]
        if tag is not None:
            tests += tag.chain()
        for i, (testid, candidate) in enumerate(tests):
            if candidate is not None and candidate.plan_index != step.index:
                continue
            if testid == 0 and state == "stop":  # stopped on board: restarted, not taken
                self._leftover = self._stopped_rest(step, progress, candidate)
                if self._leftover is not None:
                    return False
                continue
            test = self._resumable_test(
                step, progress, candidate, state if testid == 0 else "finish", testid
            )
            if test is not None:
                if testid:  # the steps after it began on board: theirs are the tests after
                    test.state = "finish"
                    self._next = [(t, c) for t, c in reversed(tests[:i]) if c is not None]
                self._test = test
                return True
        if state == "working":  # not this step: stop it, so that the step can be restarted
            probe = _Test(step, 0.0, 0.0, 0.0)
            self._instrument.transact(messages.stop_request([self.address]))
            probe.stop_sent = True
            self._wait_until_idle(probe)
        return False

    def stop(self) -> None:
        test = self._test
        if test is None or test.ended or test.stop_sent:
            return
        if test.state is not None:  # an earlier test, ended on board: the channel has moved on
            test.stop_sent = True
            return
        # "false" means it was no longer running (it ended meanwhile): read() will see that
        self._instrument.transact(messages.stop_request([self.address]))
        test.stop_sent = True

    # -- the wire ----------------------------------------------------------------------------

    def _check_usable(self, step: Step) -> None:
        """A channel marked false at connect starts nothing unless ``getdevinfo`` now marks
        it true (the other test ended meanwhile)."""
        if self.refusal is None:
            return
        info = messages.devinfo(self._instrument.transact(messages.getdevinfo_request()))
        if self.address in info.channels and info.is_free(self.address):
            self.refusal = None
            return
        raise RuntimeError(
            f"{self.name}: not starting step {step.name!r}: the channel is not usable "
            f"({self.refusal}; getdevinfo still marks it false)"
        )

    def _stepfile(
        self, step: Step, progress: StepProgress, cv_charge: bool | None, *, warn: bool = True
    ) -> tuple[str, StepFile]:
        """The step file for ``step`` entered at ``progress``, and what it says."""
        written = with_progress(step, progress.elapsed_s, progress.charge_C)
        if not any(v is not None for v in dataclasses.astuple(written.record)):
            written = dataclasses.replace(
                written, record=RecordCriteria(every_s=self._settings.record_interval_s)
            )
        text = build_stepfile(
            written,
            created=datetime.now(),
            cv_charge=cv_charge,
            cv_current_limit_A=self._cv_current_limit(step, warn) if step.kind == "cv" else None,
        )
        return text, parse_stepfile(text)

    def _cv_current_limit(self, step: Step, warn: bool = True) -> float:
        """A CV hold's current limit: the step's own current when it names one, else the
        current of the CC step this channel ran before it (public step-file writers carry
        the preceding CC current: aurora-unicycler ``_formats/neware.py``), else the
        ``cv_current_limit_A`` option, else the channel's maximum (with a warning: on a
        low-current channel that lets a hold draw far more than the protocol meant)."""
        if isinstance(step.current_A, float | int) and step.current_A != 0:
            return abs(float(step.current_A))
        if self._last_current_A is not None:
            return self._last_current_A
        if self._settings.cv_current_limit_A is not None:
            return self._settings.cv_current_limit_A
        if warn:
            log.warning(
            "%s: CV hold %r has no CC step before it on this channel (a resumed run?); its "
            "current is limited to the channel maximum %.6g A (set cv_current_limit_A)",
            self.name, step.name, self._settings.current_max_A,
            )  # fmt: skip
        return self._settings.current_max_A

    def _stopped_rest(
        self, step: Step, progress: StepProgress, tag: StepTag | None
    ) -> tuple[int, StepProgress, np.ndarray] | None:
        """The latest test, stopped, as ``step``: its points after ``progress`` (None: it is
        not this step's, or has none)."""
        test = self._resumable_test(step, progress, tag, "stop")
        if test is None:
            return None
        blocks = [self._download(test)]
        while test.got:
            blocks.append(self._download(test))
        points = self._points(test, np.concatenate(blocks))
        return (step.index, progress, points) if len(points) else None

    def _take_leftover(self, step: Step, progress: StepProgress) -> np.ndarray | None:
        found, self._leftover = self._leftover, None
        if found is None:
            return None
        index, where, points = found
        return points if index == step.index and where == progress else None

    def _adopt_next(self, step: Step, progress: StepProgress) -> bool:
        """Take over the test of ``step`` a dead daemon had begun (found by reattach)."""
        if not self._next:
            return False
        testid, tag = self._next.pop(0)
        fresh = progress.elapsed_s == 0 and progress.charge_C == 0
        test = None
        if fresh and tag.plan_index == step.index and tag.at_step_start:
            state = "finish" if testid else self._status()
            if state == "stop":  # stopped on board: restart it, after what it measured
                self._leftover = self._stopped_rest(step, progress, tag)
                self._next = []
                return False
            test = self._resumable_test(step, progress, tag, state, testid)
        if test is None:
            self._next = []
            return False
        if testid:
            test.state = "finish"
        self._test = test
        return True

    def _resumable_test(
        self,
        step: Step,
        progress: StepProgress,
        tag: StepTag | None,
        state: str,
        testid: int = 0,
    ) -> _Test | None:
        """Test ``testid`` (0: the latest) as ``step`` read on from where ``progress`` ends;
        None: it is not that step, or not there."""
        begun = tag or StepTag(step.index)
        since_begun = progress.elapsed_s - begun.elapsed_s
        probe = _Test(step, 0.0, begun.elapsed_s, begun.charge_C, testid=testid)
        records = self._records_until(probe, since_begun)
        _, file = self._stepfile(
            step,
            StepProgress(begun.elapsed_s, begun.charge_C),
            _cv_charge(step, records),
            warn=False,
        )
        if not set(records["steptype"].tolist()) - {""} <= file.record_steptypes:
            return None
        test = _Test(
            file.step,
            file.direction,
            begun.elapsed_s,
            begun.charge_C,
            testid=probe.testid,
            tag=tag,
            first_part_last=probe.first_part_last,
            second_part_from=probe.second_part_from,
        )
        if since_begun <= TIME_TOLERANCE_S:
            # nothing stored since the test began: a tag says it is this step's; untagged,
            # only a test still working can be (an ended one may be the step before)
            return test if tag is not None or state == "working" else None
        index = _record_at(records, since_begun, test.direction, progress.charge_C - begun.charge_C)
        if index is None:
            return None
        r = records[index]
        test.next_seq = int(r["seqid"]) + 1
        test.last = (float(r["t"]), float(r["V"]), float(r["I"]), float(r["cap_Ah"]))
        self._last_V = float(r["V"])
        return test

    def _records_until(self, probe: _Test, t: float) -> np.ndarray:
        """The latest test's records from its first up to (at least) test time ``t``."""
        blocks: list[np.ndarray] = []
        while True:
            block = self._download(probe)
            blocks.append(block)
            if probe.got == 0 or (len(block) and float(block["t"][-1]) >= t - TIME_TOLERANCE_S):
                break
        return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]

    def _latest_tag(self) -> StepTag | None:
        answer = self._instrument.transact(messages.inquire_request([self.address]))
        (barcode,) = messages.inquired_barcode(answer, [self.address])
        return StepTag.parse(barcode)

    def _wait_until_idle(self, test: _Test, *, keep_end: bool = False) -> None:
        delay = 0.05
        for _ in range(IDLE_POLLS):
            state = self._status()
            if state != "working":
                test.idle_due = False
                if not keep_end:
                    test.ended, test.end_reason = True, self._end_reason(test, state)
                return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise RuntimeError(f"{self.name}: still working {IDLE_POLLS} polls after stop")

    def _download(self, test: _Test) -> np.ndarray:
        request = messages.download_request(
            self.address,
            testid=test.testid,
            startpos=test.next_seq,
            count=self._settings.download_records,
            auxid=self._settings.auxid,
        )
        got = messages.download(self._instrument.transact(request))
        if test.testid == 0:
            test.testid = got.testid
        elif got.testid not in (0, test.testid):
            raise ProtocolError(f"{self.name}: asked for test {test.testid}, got {got.testid}")
        records = got.records[got.records["seqid"] >= test.next_seq]  # never twice
        expected = np.arange(test.next_seq, test.next_seq + len(records))
        if not np.array_equal(records["seqid"], expected):
            raise ProtocolError(
                f"{self.name}: records out of sequence after {test.next_seq - 1}: "
                f"{records['seqid'][:5].tolist()}…"
            )
        test.next_seq += len(records)
        test.got = len(records)
        records = np.asarray(records[_join_parts(test, records)])
        if len(records):
            r = records[-1]
            test.last = (float(r["t"]), float(r["V"]), float(r["I"]), float(r["cap_Ah"]))
            self._last_V = float(r["V"])
        return records

    def _status(self) -> str:
        answer = self._instrument.transact(messages.getchlstatus_request([self.address]))
        (state,) = messages.answers(answer, "getchlstatus", "status", [self.address])
        return state

    def _present_voltage(self) -> float:
        if self._last_V is None:
            answer = self._instrument.transact(messages.inquire_request([self.address]))
            (self._last_V,) = messages.inquired_voltage(answer, [self.address])
        return self._last_V

    def _points(self, test: _Test, records: np.ndarray) -> np.ndarray:
        if len(records) == 0:
            return empty_samples()
        points = np.empty(len(records), dtype=SAMPLE_DTYPE)
        points["t"] = test.t_offset + records["t"]
        points["V"] = records["V"]
        points["I"] = records["I"]
        points["Q"] = test.q_offset + test.direction * records["cap_Ah"] * C_PER_AH
        points["T"] = records["T_C"] + KELVIN_AT_0_C  # NaN stays NaN
        return points

    def _end_reason(self, test: _Test, state: str) -> str | None:
        if state == "stop":
            return None if test.stop_sent else "instrument:stop"
        if state == "protect":
            return "instrument:protect"
        if test.last is None:
            return "instrument:finish"
        t, V, I, cap = test.last
        return end_reason_from_record(test.step, t=t, V=V, I=I, charge_C=cap * C_PER_AH)


def stepfile_notes(host: str, settings: ChannelSettings, private_folder: bool) -> list[str]:
    """What to tell the operator about the step file folder, the first line always.

    The BTS API has no command that reads or lists a file without starting a test, so
    whether the BTS PC sees the folder cannot be checked at connect: a ``start`` whose file
    BTS cannot open is answered ``false``, and the driver's error then names the path sent.
    """
    where = settings.bts_path("<file>.xml")
    notes = [
        f"step files are written to {settings.folder} and BTS is sent {where}; "
        "the BTS API cannot show before a start whether the BTS PC can open that path"
    ]
    if host not in LOOPBACK_HOSTS:
        if private_folder:
            notes.append(
                "step files go to a private temporary folder on this machine, which the BTS "
                f"PC at {host} cannot see: set stepfile_dir to a folder shared with it and "
                "bts_stepfile_dir to that folder as the BTS PC names it"
            )
        elif settings.bts_stepfile_dir is None:
            notes.append(
                f"bts_stepfile_dir is not set: the BTS PC at {host} is sent this machine's "
                f"path {settings.folder}; set it to the shared folder as the BTS PC names it "
                "(e.g. \\\\labpc\\cyclerctl-steps or Z:\\cyclerctl-steps)"
            )
    return notes


def _whole_step_limit(step: Step, records: np.ndarray) -> tuple[int, str] | None:
    """The first record at which the whole step's time or charge limit is reached."""
    hits: list[tuple[int, str]] = []
    for c in step.ends:
        if c.kind == "time":
            reached = records["t"] >= _si(c) - TIME_TOLERANCE_S
        elif c.kind == "charge":
            reached = records["cap_Ah"] * C_PER_AH >= _si(c) * (1 - CHARGE_TOLERANCE)
        else:
            continue
        if reached.any():
            hits.append((int(np.argmax(reached)), c.reason))
    return min(hits) if hits else None


def _join_parts(test: _Test, records: np.ndarray) -> np.ndarray:
    """A CC-CV test's records as one step: the CV part (``stepid`` 2) counts its time and
    capacity from 0 on BTS, so each of its records gets the CC part's last record's added.
    Its record at time 0 is the instant of the CC's last one: kept once (the CC's). Returns
    which records to keep."""
    keep = np.ones(len(records), dtype=bool)
    for i in range(len(records)):
        if records["stepid"][i] <= 1:
            test.first_part_last = (float(records["t"][i]), float(records["cap_Ah"][i]))
            continue
        if test.second_part_from is None:
            test.second_part_from = test.first_part_last
        t0, cap0 = test.second_part_from
        keep[i] = records["t"][i] > TIME_TOLERANCE_S or t0 == 0.0
        records["t"][i] += t0
        records["cap_Ah"][i] += cap0
    return keep


def _cv_charge(step: Step, records: np.ndarray) -> bool | None:
    """Whether a CV step's test charges, from its records (None: not a CV step)."""
    if step.kind != "cv" or not isinstance(step.voltage_V, float | int):
        return None
    kinds = set(records["steptype"].tolist())
    if kinds & {"cv", "dv"}:
        return "cv" in kinds
    return bool(len(records)) and step.voltage_V >= float(records["V"][0])


def _record_at(records: np.ndarray, t: float, direction: float, charge_C: float) -> int | None:
    """The record at test time ``t`` (to the millisecond) that passed ``charge_C`` (signed).

    The stored charge is the test's capacity × direction plus the charge at which the test
    began, so it comes back from the database rounded: compared to a part per million.
    """
    near = np.flatnonzero(np.abs(records["t"] - t) <= TIME_TOLERANCE_S)
    for index in near:
        passed = direction * float(records["cap_Ah"][index]) * C_PER_AH
        if abs(passed - charge_C) <= CHARGE_TOLERANCE * max(abs(charge_C), 1.0):
            return int(index)
    return None


def end_reason_from_record(step: Step, *, t: float, V: float, I: float, charge_C: float) -> str:
    """Which of the step file's limits the step's last record shows reached."""
    native = [c for c in step.ends if c.kind in NATIVE_CONDITIONS]
    for c in native:
        value = _si(c)
        if c.kind == "time" and t >= value - TIME_TOLERANCE_S:
            return c.reason
        if c.kind == "charge" and abs(charge_C) >= value * (1 - CHARGE_TOLERANCE):
            return c.reason
    # voltage and current: measured with noise, so the nearest in relative terms
    distances: list[tuple[float, EndCondition]] = []
    for c in native:
        value = _si(c)
        if c.kind in ("voltage_above", "voltage_below"):
            distances.append((abs(V - value) / max(abs(value), 0.1), c))
        elif c.kind == "current_below":
            distances.append((abs(abs(I) - value) / max(value, 1e-12), c))
    if not distances:
        return "instrument:finish"
    return min(distances, key=lambda d: d[0])[1].reason


class NewareInstrument:
    """A BTS server (the PC running BTS Client with the API activated) and its channels."""

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        username: str = "admin",
        password: str = "neware",
        timeout_s: float = 30.0,
        retries: int = 6,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        settings: ChannelSettings | None = None,
        only_channels: Sequence[str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.link = Link(
            host,
            port,
            username=username,
            password=password,
            timeout_s=timeout_s,
            retries=retries,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
        )
        settings = settings or ChannelSettings()
        self._own_dir: Path | None = None
        if settings.stepfile_dir is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="cyclerctl-neware-"))
            settings = dataclasses.replace(settings, stepfile_dir=self._own_dir)
        self._settings = settings
        self._only = None if only_channels is None else set(only_channels)
        self._on_close = on_close
        self._channels: tuple[NewareChannel, ...] = ()
        self._identity = self._make_identity("", "unknown")
        #: listed by getdevinfo but not offered: key → why (see :meth:`connect`)
        self.unavailable: dict[str, str] = {}
        #: what the driver cannot check itself, said at connect (the step file folder)
        self.notes: list[str] = []

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def channels(self) -> tuple[NewareChannel, ...]:
        return self._channels

    def transact(self, request: str) -> messages.Message:
        return self.link.transact(request)

    def connect(self) -> None:
        """Log in and list the usable channels, in device/sub-device/channel order.

        ``getdevinfo`` marks each channel ``true`` or ``false``. A ``false`` one is not
        offered (see :attr:`unavailable`) unless its latest test carries this driver's tag
        (``inquire``, asked once for every listed channel as aurora-neware asks): that is a
        test a crashed daemon began, which the next one must be able to take over. In the
        captured BTS 8.0 answers ``false`` marks exactly the channels running a test.
        """
        info = messages.devinfo(self.transact(messages.getdevinfo_request()))
        listed = list(info.channels)
        self.unavailable = {}
        if not all(info.is_free(a) for a in listed):
            answer = self.transact(messages.inquire_request(listed))
            states = messages.inquired_workstatus(answer, listed)
            barcodes = messages.inquired_barcode(answer, listed)
            for a, state, barcode in zip(listed, states, barcodes, strict=True):
                if not info.is_free(a) and StepTag.parse(barcode) is None:
                    self.unavailable[a.key] = (
                        f"marked false by getdevinfo (state {state or 'unknown'}, "
                        f"barcode {barcode!r}: not a test of this driver)"
                    )
        in_order = sorted(listed, key=lambda a: (a.devid, a.subdevid, a.chlid))
        if self._only is not None:
            # the channels named in the options, each one kept (a daemon numbers its
            # channels by this list: it must not shift when one is busy); one not usable
            # now refuses to start a step, with the reason
            unknown = self._only - {a.key for a in listed}
            if unknown:
                raise RuntimeError(
                    f"neware {self.link.where}: the BTS server does not list channel(s) "
                    f"{', '.join(sorted(unknown))} (it lists "
                    f"{', '.join(a.key for a in in_order)})"
                )
            chosen = [a for a in in_order if a.key in self._only]
        else:
            chosen = [a for a in in_order if a.key not in self.unavailable]
        if not chosen:
            why = "; ".join(f"{k} {v}" for k, v in self.unavailable.items())
            raise RuntimeError(
                f"neware {self.link.where}: the BTS server lists no usable channels"
                + (f" ({why})" if why else "")
            )
        self._channels = tuple(
            NewareChannel(self, a, self._settings, refusal=self.unavailable.get(a.key))
            for a in chosen
        )
        for channel in self._channels:
            if channel.refusal is not None:
                log.warning("neware %s: %s is not usable now: %s",
                            self.link.where, channel.name, channel.refusal)  # fmt: skip
        self.notes = stepfile_notes(self.link.host, self._settings, self._own_dir is not None)
        for note in self.notes[1:]:
            log.warning("neware %s: %s", self.link.where, note)
        log.info("neware %s: %s", self.link.where, self.notes[0])
        devtypes = sorted({a.devtype for a in chosen})
        self._identity = self._make_identity(
            "/".join(str(d) for d in devtypes), info.client_version or "unknown"
        )

    def close(self) -> None:
        """Leave every channel this driver started at rest, then let go of the link."""
        try:
            for channel in self._channels:
                if channel.running:
                    # closing an unreachable instrument must not raise
                    with contextlib.suppress(OSError, RuntimeError):
                        channel.stop()
        finally:
            self.link.close()
            if self._own_dir is not None:
                shutil.rmtree(self._own_dir, ignore_errors=True)
            if self._on_close is not None:
                self._on_close()

    def _make_identity(self, devtypes: str, firmware: str) -> Identity:
        return Identity(
            driver="neware",
            vendor="Neware",
            model=f"BTS (devtype {devtypes})" if devtypes else "BTS",
            serial=self.link.where,
            firmware=firmware,
        )


def _si(condition: EndCondition) -> float:
    if not isinstance(condition.value, float | int):
        raise ValueError(f"condition {condition.kind} is not bound")
    return float(condition.value)
