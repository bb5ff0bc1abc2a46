"""A job's wall-clock deadline, which it pauses while work bounded better elsewhere runs.

The worker gives each job ``PARLEY_JOB_TIMEOUT`` seconds (``job_deadline``). A file in a
processing process is bounded better, by the CPU it spends: on a loaded host it gets its CPU
late, and the job's clock, had it run on, would decide first, calling a file that should be
rejected once a passing fault, to be retried. So a job stops its clock while it awaits such
work (``paused``), and has the time it had left once the work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["job_deadline", "paused"]


@dataclass(frozen=True, slots=True)
class _Deadline:
    timeout: asyncio.Timeout
    # The job's task: a task the job starts sees the deadline too (its context is a copy of
    # the job's), and does not pause it.
    task: asyncio.Task[Any] | None


_current: ContextVar[_Deadline | None] = ContextVar("job_deadline", default=None)


@contextlib.asynccontextmanager
async def job_deadline(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout(seconds)``, which the code within may pause."""
    async with asyncio.timeout(seconds) as timeout:
        token = _current.set(_Deadline(timeout, asyncio.current_task()))
        try:
            yield
        finally:
            _current.reset(token)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The job's deadline stopped meanwhile, the time it had left given back after."""
    deadline = _current.get()
    timeout = None
    if deadline is not None and deadline.task is asyncio.current_task():
        timeout = deadline.timeout
    when = timeout.when() if timeout is not None and not timeout.expired() else None
    if timeout is None or when is None:  # no job's deadline here, passed, or paused already
        yield
        return
    loop = asyncio.get_running_loop()
    left = when - loop.time()
    timeout.reschedule(None)
    try:
        yield
    finally:
        if not timeout.expired():
            timeout.reschedule(loop.time() + left)
