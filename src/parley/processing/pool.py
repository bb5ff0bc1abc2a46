"""The processes that decode images and parse PDFs, away from the worker's event loop.

Two things the standard ``ProcessPoolExecutor`` does not do, and a worker needs:

- **A limit on each file.** Cancelling the awaiting job (its timeout) does not stop the work
  in the other process, and a file of a few KiB can keep a parser busy for hours (a PDF page
  drawing one form thousands of times, say). Each call may spend ``cpu_seconds`` of its
  process's CPU; past that the file is rejected, and the process is free for the next one.
- **Starting again.** A process that dies (killed for memory, a crash in a decoder) breaks
  the executor for good: every later call raises ``BrokenProcessPool``. The pool is made
  again, and the job that met the breakage fails once and is retried.
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

from parley.processing.previews import RejectedFileError

__all__ = ["ProcessingPool", "within_cpu_seconds"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class ProcessingPool:
    def __init__(self, processes: int, *, cpu_seconds: float) -> None:
        self._processes = processes
        self._cpu_seconds = cpu_seconds
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # Spawned, not forked: a child gets no copy of the event loop or its sockets.
        return ProcessPoolExecutor(
            max_workers=self._processes, mp_context=multiprocessing.get_context("spawn")
        )

    async def run(self, function: Callable[..., _T], *args: object) -> _T:
        """``function(*args)`` in one of the processes, within the pool's CPU limit."""
        executor = self._executor
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                executor, within_cpu_seconds, self._cpu_seconds, function, *args
            )
        except BrokenProcessPool:
            if executor is self._executor:  # the first of the calls that met it starts anew
                log.warning("a processing process died; starting the processing pool again")
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            raise

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def within_cpu_seconds(seconds: float, function: Callable[..., _T], *args: object) -> _T:
    """``function(*args)``, stopped with ``RejectedFileError`` once this process has spent
    ``seconds`` of CPU on it. Runs in a processing process's main thread, the only one
    where Python delivers signals."""
    try:
        with _cpu_limit(seconds):
            return function(*args)
    except _OutOfTime:  # out here: the timer may also fire as the limit is being lifted
        msg = f"the file took more than {seconds:g} s of CPU to process"
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
