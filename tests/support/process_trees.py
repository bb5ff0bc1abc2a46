"""The processes a Parley process started, and whether they outlive it."""

from __future__ import annotations

import psutil

from tests.support.waiting import eventually

__all__ = ["RESOURCE_TRACKER", "all_ended", "descendants", "processing_processes"]

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


async def all_ended(processes: list[psutil.Process], *, within: float) -> None:
    """Wait until every one of ``processes`` has ended; fail after ``within`` seconds naming
    those still running, each by its pid and command line. One that has exited and that
    nobody reaped yet (a zombie) holds no memory: it counts as ended."""
    await eventually(
        lambda: [f"{each.pid}: {_command(each)}" for each in processes if _running(each)],
        lambda running: not running,
        within=within,
        every=0.05,
        what="every process ended",
    )


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
