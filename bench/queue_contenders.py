"""The queues the queue benchmark drives: Parley's, the taskiq peer's and the list floor's.

Each enqueues the way its users would, one awaited call per job; runs one worker process at
its library's default concurrency; tells how many jobs are not yet acknowledged; and lives in
a Redis key space of its own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as redis
from taskiq_redis import RedisStreamBroker

from bench.peers.floor_list_queue import NOOP, queue_keys
from bench.peers.taskiq_queue import noop, stream_broker, wait_probe
from bench.queue_tasks import Noop, WaitProbe
from bench.support.parley import REDIS_URL, postgres_database
from bench.support.spawn import python_process
from parley.composition.seams import build_queue, redis_client
from parley.core.settings import Settings
from parley.tasks.queue import TaskQueue

__all__ = ["Contender", "floor_queue", "parley_queue", "taskiq_queue"]

WorkerProcess = AbstractAsyncContextManager[asyncio.subprocess.Process]


class Contender(Protocol):
    slug: str  # names its worker's log
    label: str
    worker_setting: str  # how its worker runs, for the table

    async def enqueue_noop(self) -> None: ...

    async def enqueue_wait_probe(self) -> None:
        """A job whose worker prints ``waited <seconds> s`` (enqueue to start) as it starts."""
        ...

    async def unfinished(self) -> int:
        """Jobs enqueued and not yet acknowledged."""
        ...

    def worker(self, log: Path) -> WorkerProcess:
        """One worker process, its output in ``log``."""
        ...


def _private_namespace(system: str) -> str:
    return f"bench-queue-{system}-{uuid.uuid4().hex[:8]}"


async def _forget(client: redis.Redis, *patterns: str) -> None:
    for pattern in patterns:
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            await client.delete(*keys)


class ParleyQueue:
    slug = "parley"
    label = "Parley"

    def __init__(self, queue: TaskQueue, worker_env: dict[str, str], concurrency: int) -> None:
        self._queue = queue
        self._worker_env = worker_env
        self.worker_setting = (
            f"`parley worker --concurrency {concurrency}` (its default): {2 * concurrency} jobs "
            "at once"
        )

    async def enqueue_noop(self) -> None:
        await self._queue.enqueue(Noop())

    async def enqueue_wait_probe(self) -> None:
        await self._queue.enqueue(WaitProbe())

    async def unfinished(self) -> int:
        stats = await self._queue.stats()
        return stats.depth + stats.in_flight

    def worker(self, log: Path) -> WorkerProcess:
        # Its commands come from a task module of the benchmark's, imported from the
        # working directory (the repository's root, where `python -m bench` runs).
        worker = ["-m", "parley", "worker", "--tasks", "bench.queue_tasks"]
        return python_process(worker, log, env=self._worker_env)


@contextlib.asynccontextmanager
async def parley_queue(workdir: Path) -> AsyncIterator[ParleyQueue]:
    """Parley's Redis queue, built from settings as the app builds it. The worker gets a fresh
    PostgreSQL database: no-op jobs never touch it, but its upload sweeper reads it."""
    namespace = _private_namespace("parley")
    async with postgres_database() as database_url:
        settings = Settings(redis_url=REDIS_URL, redis_namespace=namespace)
        worker_env = {
            "PARLEY_REDIS_URL": REDIS_URL,
            "PARLEY_REDIS_NAMESPACE": namespace,
            "PARLEY_DATABASE_URL": database_url,
            "PARLEY_DATA_DIR": str(workdir / "parley-data"),
        }
        client = redis_client(REDIS_URL)
        try:
            queue = build_queue(settings, client)
            yield ParleyQueue(queue, worker_env, settings.worker_concurrency)
        finally:
            await _forget(client, f"{namespace}:*")
            await client.aclose()


class TaskiqQueue:
    slug = "taskiq"
    label = "taskiq, stream broker"
    worker_setting = "`taskiq worker --workers 1`, 100 async tasks (its default), warnings only"

    def __init__(self, broker: RedisStreamBroker, client: redis.Redis, namespace: str) -> None:
        self._broker = broker
        self._client = client
        self._namespace = namespace

    async def enqueue_noop(self) -> None:
        await noop.kicker().with_broker(self._broker).kiq()

    async def enqueue_wait_probe(self) -> None:
        await wait_probe.kicker().with_broker(self._broker).kiq(time.time())

    async def unfinished(self) -> int:
        # The stream keeps acknowledged entries: what is left is what the group has not yet
        # read (its lag) and what it read but has not acknowledged (pending).
        groups: list[dict[str, Any]] = await self._client.xinfo_groups(self._broker.queue_name)
        [group] = groups
        return int(group["lag"]) + int(group["pending"])

    def worker(self, log: Path) -> WorkerProcess:
        # Warnings only: at its default (info) taskiq logs a line per job; Parley logs none.
        command = ["taskiq", "worker", "bench.peers.taskiq_queue:broker", "--workers", "1"]
        return python_process(
            ["-m", *command, "--log-level", "WARNING"],
            log,
            env={"BENCH_REDIS_URL": REDIS_URL, "BENCH_QUEUE_NAMESPACE": self._namespace},
        )


@contextlib.asynccontextmanager
async def taskiq_queue(_workdir: Path) -> AsyncIterator[TaskiqQueue]:
    namespace = _private_namespace("taskiq")
    broker = stream_broker(REDIS_URL, namespace)
    client = redis.Redis.from_url(REDIS_URL)
    # Its consumer group starts at the stream's end ("$"): made now, before the first job.
    await broker.startup()
    try:
        yield TaskiqQueue(broker, client, namespace)
    finally:
        await broker.shutdown()
        await _forget(client, f"{namespace}:*", f"autoclaim:{namespace}:*")
        await client.aclose()


class FloorQueue:
    slug = "floor"
    label = "floor: Redis list, BLMOVE + LREM"
    worker_setting = "one consumer process, one job at a time"

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self._jobs, self._processing = queue_keys(namespace)

    async def enqueue_noop(self) -> None:
        await self._client.lpush(self._jobs, NOOP)

    async def enqueue_wait_probe(self) -> None:
        await self._client.lpush(self._jobs, repr(time.time()))

    async def unfinished(self) -> int:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.llen(self._jobs)
            pipe.llen(self._processing)
            waiting, running = await pipe.execute()
        return int(waiting) + int(running)

    def worker(self, log: Path) -> WorkerProcess:
        arguments = ["--redis", REDIS_URL, "--namespace", self._namespace]
        return python_process(["-m", "bench.peers.floor_list_queue", *arguments], log)


@contextlib.asynccontextmanager
async def floor_queue(_workdir: Path) -> AsyncIterator[FloorQueue]:
    namespace = _private_namespace("floor")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield FloorQueue(client, namespace)
    finally:
        await _forget(client, f"{namespace}:*")
        await client.aclose()
