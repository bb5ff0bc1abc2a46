"""The Redis queue: a stream with a consumer group, a sorted set of retries, a dead-letter stream.

- ``XADD`` enqueues; ``XREADGROUP … BLOCK`` hands jobs out and wakes a waiting worker at once.
- An entry stays *pending* until ``XACK``: a worker that dies holding it leaves it there, and
  ``XAUTOCLAIM`` finds entries idle longer than ``reclaim_after`` (workers extend live leases
  with ``XCLAIM … JUSTID``), which go back in as their next attempt.
- A finished job is acked and deleted in one transaction (``XACK`` and ``XDEL``), many
  entries at a time: the stream holds only what is waiting or in hand.
- Retries wait in a sorted set scored by due time; a Lua script moves due ones back.
- Redis may restart empty: a missing group is recreated, and the upload sweeper re-enqueues
  from PostgreSQL whatever was lost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as redis
from redis.exceptions import ResponseError

from parley.tasks.commands import Command
from parley.tasks.queue import DeadLetter, JobRecord, Lease, QueueStats

__all__ = ["RedisTaskQueue"]

_GROUP = "workers"
_DEAD_LETTERS_KEPT = 10_000

_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'j', job)
  redis.call('ZREM', KEYS[1], job)
end
return #due
"""


class RedisTaskQueue:
    def __init__(self, client: redis.Redis, *, namespace: str, reclaim_after: float) -> None:
        self._client = client
        self._stream = f"{namespace}:tasks:jobs"
        self._delayed = f"{namespace}:tasks:delayed"
        self._dead = f"{namespace}:tasks:dead"
        self._retries = f"{namespace}:tasks:retries"
        self._reclaim_after_ms = int(reclaim_after * 1000)
        self._move_due = client.register_script(_MOVE_DUE)

    async def enqueue(self, command: Command) -> str:
        job = JobRecord.of(command)
        await self._client.xadd(self._stream, {"j": job.dumps()})
        return job.id

    async def claim(self, consumer: str, count: int, wait: float) -> list[Lease]:
        try:
            reply = await self._read(consumer, count, wait)
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self._create_group()  # first use, or Redis restarted empty
            reply = await self._read(consumer, count, wait)
        leases = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                leases.append(Lease(JobRecord.loads(fields[b"j"]), entry_id.decode()))
        return leases

    async def _read(self, consumer: str, count: int, wait: float) -> Any:
        return await self._client.xreadgroup(
            _GROUP, consumer, {self._stream: ">"}, count=count, block=max(1, int(wait * 1000))
        )

    async def _create_group(self) -> None:
        try:
            await self._client.xgroup_create(self._stream, _GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def ack(self, leases: Sequence[Lease]) -> None:
        if not leases:
            return
        receipts = [lease.receipt for lease in leases]
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, _GROUP, *receipts)
            pipe.xdel(self._stream, *receipts)
            await pipe.execute()

    async def retry(self, lease: Lease, delay: float) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(self._delayed, {lease.job.next_attempt().dumps(): time.time() + delay})
            pipe.incr(self._retries)
            pipe.xack(self._stream, _GROUP, lease.receipt)
            pipe.xdel(self._stream, lease.receipt)
            await pipe.execute()

    async def release(self, lease: Lease) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(self._stream, {"j": lease.job.dumps()})
            pipe.xack(self._stream, _GROUP, lease.receipt)
            pipe.xdel(self._stream, lease.receipt)
            await pipe.execute()

    async def bury(self, lease: Lease, reason: str) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._dead,
                {"j": lease.job.dumps(), "reason": reason[:2000], "at": str(time.time())},
                maxlen=_DEAD_LETTERS_KEPT,
                approximate=True,
            )
            pipe.xack(self._stream, _GROUP, lease.receipt)
            pipe.xdel(self._stream, lease.receipt)
            await pipe.execute()

    async def extend(self, consumer: str, leases: list[Lease]) -> None:
        if not leases:
            return
        # Claiming entries to their own consumer resets their idle time: "still working".
        await self._client.xclaim(
            self._stream, _GROUP, consumer, 0, [lease.receipt for lease in leases], justid=True
        )

    async def maintain(self, consumer: str) -> None:
        await self._move_due(keys=[self._delayed, self._stream], args=[time.time()])
        try:
            reply = await self._client.xautoclaim(
                self._stream, _GROUP, consumer, self._reclaim_after_ms, start_id="0-0", count=100
            )
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self._create_group()
            return
        for entry_id, fields in reply[1]:
            if fields is None:
                continue  # deleted while pending
            # Its worker died holding it: back in the queue as a further attempt, so that a
            # job that kills every worker it meets ends in the dead letters.
            await self.retry(Lease(JobRecord.loads(fields[b"j"]), entry_id.decode()), 0)

    async def stats(self) -> QueueStats:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xlen(self._stream)
            pipe.zcard(self._delayed)
            pipe.xlen(self._dead)
            pipe.get(self._retries)
            length, delayed, dead, retries = await pipe.execute()
        pending = 0
        try:
            groups: list[dict[str, Any]] = await self._client.xinfo_groups(self._stream)
        except ResponseError:
            groups = []  # no stream yet
        for group in groups:
            if group["name"] in {_GROUP, _GROUP.encode()}:
                pending = int(group["pending"])
        return QueueStats(
            depth=int(length) - pending,
            in_flight=pending,
            delayed=int(delayed),
            dead=int(dead),
            retries=int(retries or 0),
        )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self._client.xrevrange(self._dead, count=limit),
        )
        return [
            DeadLetter(
                JobRecord.loads(fields[b"j"]), fields[b"reason"].decode(), float(fields[b"at"])
            )
            for _entry_id, fields in reversed(entries)
        ]

    async def close(self) -> None:
        pass
