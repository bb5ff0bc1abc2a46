"""CPU time and resident memory of the processes under test, read from the OS."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

__all__ = ["CpuMeter", "resident_bytes"]


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class CpuMeter:
    """CPU seconds spent by a set of processes (and their children) between start and stop."""

    pids: list[int]
    _started: float = 0.0

    def _total(self) -> float:
        total = 0.0
        for pid in self.pids:
            process = psutil.Process(pid)
            total += _cpu_seconds(process)
            total += sum(_cpu_seconds(child) for child in process.children(recursive=True))
        return total

    def start(self) -> None:
        self._started = self._total()

    def stop(self) -> float:
        return self._total() - self._started


def resident_bytes(pids: Iterable[int]) -> int:
    """Resident set size of the processes (and their children), in bytes."""
    total = 0
    for pid in pids:
        process = psutil.Process(pid)
        total += process.memory_info().rss
        total += sum(child.memory_info().rss for child in process.children(recursive=True))
    return total
