"""The command line every scenario shares: ``python -m bench.<scenario> [--smoke]``."""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import timeit
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import psutil

from bench.support.table import Table

__all__ = ["Scenario", "machine", "run_scenario"]

# A scenario gets a scratch directory and whether to run at smoke size; it returns its tables.
Scenario = Callable[[Path, bool], Coroutine[Any, Any, list[Table]]]


def machine() -> str:
    cores = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory().total / 2**30
    python = platform.python_version()
    return (
        f"{platform.machine()}, {cores} cores, {memory:.0f} GiB, Python {python}; "
        f"CPU reference {cpu_reference_ms():.0f} ms"
    )


def cpu_reference_ms() -> float:
    """A fixed pure-Python workload (``sum(range(1000))`` 20,000 times), best of three, in ms:
    how fast this machine runs Python today. Shared machines differ from one session to
    the next by a factor of two or more; absolute figures only compare alongside this one."""
    return min(timeit.repeat("sum(range(1000))", number=20_000, repeat=3)) * 1000


def run_scenario(scenario: Scenario, description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the harness runs, measures nothing"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as scratch:
        tables = asyncio.run(scenario(Path(scratch), arguments.smoke))
    for table in tables:
        print(table.render())
