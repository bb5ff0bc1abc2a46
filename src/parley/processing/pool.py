"""The processes that decode images and parse PDFs, away from the worker's event loop.

What the standard ``ProcessPoolExecutor`` does not do, and a worker needs:

- **A limit on each file.** Cancelling the awaiting job (its timeout) does not stop the work
  in the other process, and a file of a few KiB can keep a parser busy for hours (a PDF page
  drawing one form thousands of times, say). Each call may spend ``cpu_seconds`` of its
  process's CPU; past that the file is rejected, and the process is free for the next one.
  CPU time, not the wall clock: on a loaded host a file gets its CPU later, not less of it,
  and is judged alike. A process that holds a file for ``wall_seconds`` (ten CPU limits
  unless told) without reaching its CPU limit is stuck, waiting on something: it is killed,
  and the job retried as for any process that died.
- **Logging.** A process's libraries parse files anyone uploads, and print what they like;
  each process starts by sending all it writes through Parley's JSON log
  (``process_logging``), so that a file cannot forge a line of the worker's log.
- **Starting again.** A process that dies (killed for memory, a crash in a decoder) breaks
  the executor for good: every later call raises ``BrokenProcessPool``. The pool is made
  again, and the job that met the breakage fails once and is retried.
- **Ending with the worker.** A worker killed (SIGKILL, the OOM killer) shuts nothing down:
  each process watches for its parent's end and exits with it (``parent_watch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import TypeVar

from parley.processing.parent_watch import exit_with_parent
from parley.processing.previews import RejectedFileError
from parley.processing.process_logging import start_processing_process

__all__ = ["ProcessingPool", "within_limits"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# A file held this many times its CPU limit of the wall clock without reaching that limit:
# its process is stuck (or starved on a host ten times overloaded).
STUCK_AFTER_CPU_LIMITS = 10


class ProcessingPool:
    def __init__(
        self, processes: int, *, cpu_seconds: float, wall_seconds: float | None = None
    ) -> None:
        self._processes = processes
        self._cpu_seconds = cpu_seconds
        self._wall_seconds = wall_seconds or STUCK_AFTER_CPU_LIMITS * cpu_seconds
        self._executor: ProcessPoolExecutor | None = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # Spawned, not forked: a child gets no copy of the event loop or its sockets.
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
        )

    async def run(self, function: Callable[..., _T], *args: object) -> _T:
        """``function(*args)`` in one of the processes, within the pool's limits."""
        executor = self._executor
        if executor is None:
            msg = "the processing pool is shut down"
            raise RuntimeError(msg)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                executor, within_limits, self._cpu_seconds, self._wall_seconds, function, *args
            )
        except BrokenProcessPool:
            if executor is self._executor:  # the first of the calls that met it starts anew
                log.warning("a processing process died; starting the processing pool again")
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            raise

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop the processes; with ``wait``, return once they have exited (their last log
        lines written; a file in hand is finished first, within its CPU limit).

        The executor is let go of: once its processes are gone, its queues' named
        semaphores are removed with it, rather than left for multiprocessing's resource
        tracker to find (and to complain about, in a raw line on standard error) when this
        process is killed, as uvicorn ends itself after a SIGTERM."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)


def _start_process() -> None:
    """The initializer of each processing process."""
    exit_with_parent()  # first: the worker may die while this one starts
    start_processing_process()


def within_limits(
    cpu_seconds: float, wall_seconds: float, function: Callable[..., _T], *args: object
) -> _T:
    """``function(*args)``, stopped with ``RejectedFileError`` once this process has spent
    ``cpu_seconds`` of CPU on it, and this process killed if it is still at it after
    ``wall_seconds``. Runs in a processing process's main thread, the only one where Python
    delivers signals."""
    try:
        with _wall_clock_limit(wall_seconds), _cpu_limit(cpu_seconds):
            return function(*args)
    except _OutOfTime:  # out here: the timer may also fire as the limit is being lifted
        msg = f"the file took more than {cpu_seconds:g} s of CPU to process"
        raise RejectedFileError(msg) from None


class _OutOfTime(BaseException):
    """Not an ``Exception``: parsers catch those around each part of a file and go on."""


@contextlib.contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    def expired(_signal: int, _frame: FrameType | None) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGPROF, expired)
    # CPU time, user and system; again every second after the first, should code that
    # catches everything have swallowed it.
    signal.setitimer(signal.ITIMER_PROF, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@contextlib.contextmanager
def _wall_clock_limit(seconds: float) -> Iterator[None]:
    # SIGALRM's default action, the kernel's: it ends the process even while the main thread
    # is stuck in C code, where a Python handler would never run.
    previous = signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
