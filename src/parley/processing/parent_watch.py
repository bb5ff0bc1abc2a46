"""A processing process ends with the worker that started it.

A worker that dies without shutting its pool down (SIGKILL, the kernel's OOM killer) tells
its processing processes nothing, and nothing else does: each waits on the pool's call queue,
whose pipe it holds both ends of, forever. So each process watches its parent: a
multiprocessing child is given a sentinel, the read end of a pipe whose write end only the
parent holds, which becomes readable (its end) once the parent has exited, however it died
(or has let go of the process, which the pool does only once the process has ended).
A daemon thread waits on it and ends the process at once. Once the last of them has gone,
multiprocessing's resource tracker reads the end of its own pipe, removes the semaphores the
dead worker left, and exits too.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import wait

__all__ = ["exit_with_parent"]

# The exit status of a process whose parent is gone; nobody waits for it but init.
_ORPHANED = 70


def exit_with_parent() -> None:
    """In a process started by multiprocessing, end it as soon as its parent has exited
    (at once if it already has). Elsewhere, nothing."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    watch = threading.Thread(
        target=_exit_once_ended, args=(parent.sentinel,), name="exit-with-parent", daemon=True
    )
    watch.start()


def _exit_once_ended(sentinel: int) -> None:
    wait([sentinel])
    # At once, from this thread: the main thread may be deep in a file, and the exit
    # handlers would wait on the dead worker's queues. Nothing is logged: the log's other
    # end may be gone with the worker, and a write that blocks would keep this process alive.
    os._exit(_ORPHANED)
