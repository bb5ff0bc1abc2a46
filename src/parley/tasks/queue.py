"""The TaskQueue seam: at-least-once delivery of jobs to workers.

A job is handed out on a *lease*. The worker acks it when done, asks for a retry (the job
comes back after a delay with its attempt count raised), buries it in the dead letters, or
releases it for another worker at once. A lease neither acked nor extended for
``reclaim_after`` seconds belongs to a worker that died: the queue hands the job out again.
Handlers must therefore be idempotent; Parley's are.

Claims and acks take many jobs at once: a busy worker pays one round trip for a batch of
jobs, not one per job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from parley.tasks.commands import Command, encode_command

__all__ = ["DeadLetter", "JobRecord", "Lease", "QueueStats", "TaskQueue"]


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as it travels: the command still encoded, so a worker can fail what it
    cannot decode without losing the job's identity."""

    id: str
    command: dict[str, Any]
    attempt: int = 1
    enqueued_at: float = field(default_factory=time.time)

    @classmethod
    def of(cls, command: Command) -> JobRecord:
        return cls(id=uuid.uuid4().hex, command=encode_command(command))

    def next_attempt(self) -> JobRecord:
        return replace(self, attempt=self.attempt + 1, enqueued_at=time.time())

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "command": self.command,
                "attempt": self.attempt,
                "at": self.enqueued_at,
            }
        )

    @classmethod
    def loads(cls, data: bytes | str) -> JobRecord:
        raw = orjson.loads(data)
        return cls(
            id=raw["id"], command=raw["command"], attempt=raw["attempt"], enqueued_at=raw["at"]
        )


@dataclass(frozen=True, slots=True)
class Lease:
    job: JobRecord
    receipt: str  # which delivery this is, for the backend (a stream entry id, a token)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    job: JobRecord
    reason: str
    buried_at: float


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int  # waiting to be handed out
    in_flight: int  # handed out, not yet acked
    delayed: int  # waiting for a retry's backoff to pass
    dead: int  # in the dead letters
    retries: int  # retries scheduled since the queue began


class TaskQueue(Protocol):
    async def enqueue(self, command: Command) -> str:
        """Add a job; returns its id."""
        ...

    async def claim(self, consumer: str, count: int, wait: float) -> list[Lease]:
        """Up to ``count`` jobs, waiting at most ``wait`` seconds for the first."""
        ...

    async def ack(self, leases: Sequence[Lease]) -> None:
        """These jobs are done: forget them, all in one go."""
        ...

    async def retry(self, lease: Lease, delay: float) -> None:
        """Hand the job out again after ``delay`` seconds, as its next attempt."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give an unfinished job back at once, same attempt (a worker shutting down)."""
        ...

    async def bury(self, lease: Lease, reason: str) -> None:
        """Move a job to the dead letters, with the reason."""
        ...

    async def extend(self, consumer: str, leases: list[Lease]) -> None:
        """The worker holding these is alive: do not reclaim them yet."""
        ...

    async def maintain(self, consumer: str) -> None:
        """Move due retries into the queue, and put back (as their next attempt) the jobs
        of workers that stopped extending their leases."""
        ...

    async def stats(self) -> QueueStats: ...

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    async def close(self) -> None: ...
