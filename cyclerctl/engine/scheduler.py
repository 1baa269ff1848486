"""Many runs on one thread: a scheduler per instrument connection (issue 20).

A cycler PC drives hundreds of channels. One thread per run costs a wake-up, a lock and a
thread's worth of Python overhead per channel and per poll, far more than the channel's own
work. A :class:`ChannelScheduler` drives many runs from one thread instead: each run is a
task (a greenlet) that executes the engine's code unchanged — the per-channel step state
machine (:class:`~cyclerctl.engine.step.StepExecution`), its safety checks, record criteria,
pauses and checkpoints — until it waits. Every wait of the engine goes through its
:class:`~cyclerctl.engine.control.RunControl` (a poll interval's sleep, a pause, the wait
for a lost instrument); inside a task that wait *parks* the task on the scheduler's one
timer heap instead of blocking a thread, and a request (pause, stop, detach from the
supervisor's thread) wakes it at once, exactly as it cuts a thread's sleep short. So each
pass of the scheduler goes round every channel that is due, one after the other, and sleeps
until the next one is due.

What is not real-time work and may block for long (opening an instrument, committing a
run's last points, recording its end while the database is unwritable) runs through
:func:`blocking`: on a small fixed pool of threads, the task parked meanwhile, so one slow
call never holds up the other channels' safety checks.

The channels of one connection share the connection anyway (its lock), so a driver call
that hangs holds up that connection's channels in either design; the supervisor's stall
watchdog sees it on each run's ``alive_at`` as before. Outside a task (the foreground
``cyclerctl run``, the tests of the engine) every wait blocks its thread, as it always did.

Greenlets (the ``greenlet`` package, which SQLAlchemy's asyncio layer is built on) let the
engine's blocking code run as tasks without being rewritten around an event loop: rewriting
every wait of the engine as a coroutine would touch each fault path the tests pin.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import greenlet

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Tasks due within this much of each other run in the same pass (s): one wake-up for all.
COALESCE_S = 0.005
#: Threads for :func:`blocking` calls, for the whole process (they do not grow with runs).
BLOCKING_THREADS = 8


class Task:
    """One run on a :class:`ChannelScheduler`: a greenlet, and whether it is done."""

    def __init__(self, scheduler: ChannelScheduler, main: Callable[[], None], name: str) -> None:
        self.scheduler = scheduler
        self.main = main
        self.name = name
        self.done = threading.Event()
        self.glet: greenlet.greenlet | None = None  # created on the scheduler's thread
        self.parked = False
        self.token = 0  # counts parks: a timer left from an earlier park is ignored

    def park(self, deadline: float | None) -> None:
        """Give the thread back to the scheduler until ``deadline`` (monotonic s; None:
        until woken). Called by the task itself, on the scheduler's thread."""
        self.parked = True
        self.token += 1
        if deadline is not None:
            self.scheduler._at(deadline, self)
        self.scheduler._hub.switch()

    def wake(self) -> None:
        """Run the parked task on the scheduler's next pass (any thread)."""
        self.scheduler._wake(self)

    def alive(self) -> bool:
        return not self.done.is_set()

    def join(self, timeout: float | None = None) -> None:
        self.done.wait(timeout)


_current = threading.local()


def current_task() -> Task | None:
    """The task running now on this thread, or None (a thread of its own)."""
    return getattr(_current, "task", None)


class ChannelScheduler:
    """One thread driving many runs' tasks; it starts with the first task and ends when
    the last one has ended (and starts again with the next)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Condition()
        self._incoming: list[Task] = []
        self._woken: list[Task] = []
        self._timers: list[tuple[float, int, int, Task]] = []  # only its own thread uses it
        self._order = itertools.count()
        self._tasks = 0  # tasks submitted and not done
        self._thread: threading.Thread | None = None
        self._hub: greenlet.greenlet  # the scheduler thread's own greenlet

    def submit(self, main: Callable[[], None], name: str) -> Task:
        """Run ``main()`` as a task on this scheduler's thread (any thread may submit)."""
        task = Task(self, main, name)
        with self._lock:
            self._incoming.append(task)
            self._tasks += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"scheduler-{self.name}", daemon=True
                )
                self._thread.start()
            self._lock.notify()
        return task

    @property
    def tasks(self) -> int:
        """Tasks submitted and not yet done."""
        return self._tasks

    # -- the scheduler's thread ------------------------------------------------------------

    def _at(self, deadline: float, task: Task) -> None:
        heapq.heappush(self._timers, (deadline, next(self._order), task.token, task))

    def _wake(self, task: Task) -> None:
        with self._lock:
            self._woken.append(task)
            self._lock.notify()

    def _loop(self) -> None:
        self._hub = greenlet.getcurrent()
        while True:
            ready = self._due()
            if ready is None:
                return
            for task in ready:
                self._run(task)

    def _due(self) -> list[Task] | None:
        """The tasks to run in this pass, waiting for one; None when there are none left."""
        with self._lock:
            while True:
                ready = self._incoming + [t for t in self._woken if t.parked]
                self._incoming, self._woken = [], []
                horizon = time.monotonic() + COALESCE_S
                timers = self._timers
                while timers and timers[0][0] <= horizon:
                    _, _, token, task = heapq.heappop(timers)
                    if task.parked and token == task.token:
                        ready.append(task)
                if ready:
                    return list(dict.fromkeys(ready))  # a task woken and due: once
                if self._tasks == 0:
                    self._thread = None  # the next submit starts a new thread
                    return None
                timeout = timers[0][0] - time.monotonic() if timers else None
                self._lock.wait(None if timeout is None else max(timeout, 0.0))

    def _run(self, task: Task) -> None:
        """Switch into ``task`` until it parks or ends."""
        if task.glet is None:
            task.glet = greenlet.greenlet(lambda: self._task_main(task))
        elif not task.parked or task.glet.dead:
            return  # already run in this pass (woken twice)
        task.parked = False
        _current.task = task
        try:
            task.glet.switch()
        finally:
            _current.task = None
        if task.glet.dead:
            with self._lock:
                self._tasks -= 1
            task.done.set()

    def _task_main(self, task: Task) -> None:
        try:
            task.main()
        except BaseException:  # a task's end never takes the scheduler with it
            log.exception("task %s ended with an error", task.name)


# -- blocking calls from a task ------------------------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _blocking_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="blocking")
        return _pool


def blocking(call: Callable[[], T]) -> T:
    """``call()``, run on a pool thread while this task is parked (outside a task: here).
    Its result is returned and its exception raised, as if it had run here."""
    task = current_task()
    if task is None:
        return call()
    future: Future[T] = _blocking_pool().submit(call)
    future.add_done_callback(lambda _f: task.wake())
    while not future.done():
        task.park(None)
    return future.result()
