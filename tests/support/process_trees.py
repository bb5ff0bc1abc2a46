"""The processes a Parley process started, and whether they outlive it."""

from __future__ import annotations

import asyncio
import time

import psutil

__all__ = ["RESOURCE_TRACKER", "descendants", "processing_processes", "survivors"]

RESOURCE_TRACKER = "multiprocessing.resource_tracker"


def descendants(pid: int) -> list[psutil.Process]:
    """Every process ``pid`` started, and theirs: recorded now, to be checked on once it is
    gone (its orphans then belong to another parent)."""
    return psutil.Process(pid).children(recursive=True)


def processing_processes(pid: int) -> list[psutil.Process]:
    """The processing pool's processes of worker ``pid``: its children but the resource
    tracker."""
    return [
        child
        for child in psutil.Process(pid).children()
        if RESOURCE_TRACKER not in " ".join(child.cmdline())
    ]


async def survivors(processes: list[psutil.Process], *, within: float) -> list[str]:
    """Those of ``processes`` still running after ``within`` seconds (at once when none is),
    each as its pid and command line. One that has exited and that nobody reaped yet (a
    zombie) holds no memory: it counts as ended."""
    deadline = time.monotonic() + within
    while True:
        running = [process for process in processes if _running(process)]
        if not running or time.monotonic() > deadline:
            return [f"{process.pid}: {_command(process)}" for process in running]
        await asyncio.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:  # is_running() also tells a process from a later one given the same pid
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return "?"
