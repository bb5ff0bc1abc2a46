"""The queue benchmark's commands: a task module, loaded by ``parley worker --tasks
bench.queue_tasks`` (Parley's own workers know nothing of them).

``Noop`` does nothing, so draining them measures the queue itself. ``WaitProbe`` has the
worker log how long it waited between its enqueue and the start of its handler,
``wait probe waited <seconds> s in the queue``: the queue's latency as a real worker sees it,
which ``bench/queue_wait_probes.py`` reads back from the worker's log.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import ClassVar

from parley.tasks.commands import Command
from parley.tasks.handlers import handles

__all__ = ["Noop", "WaitProbe", "do_nothing", "log_wait"]

log = logging.getLogger(__name__)
# A worker logs Parley's own loggers from info, others only from warnings; these lines are
# the benchmark's figures.
log.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class Noop(Command):
    name: ClassVar[str] = "noop"


@dataclass(frozen=True, slots=True)
class WaitProbe(Command):
    name: ClassVar[str] = "wait_probe"
    sent_at: float = dataclasses.field(default_factory=time.time)  # the sender's wall clock


@handles(Noop)
async def do_nothing(_command: Noop) -> None:
    return None


@handles(WaitProbe)
async def log_wait(probe: WaitProbe) -> None:
    """It reads the clock first, so what it logs is the wait alone."""
    waited = time.time() - probe.sent_at
    log.info("wait probe waited %.6f s in the queue", waited)
