"""The TaskQueue contract with the worker on top, in memory and on Redis Streams."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import pytest
import redis.asyncio as redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from parley.composition.seams import REDIS_REPLY_TIMEOUT_SECONDS, redis_client
from parley.tasks.commands import Command, register_command
from parley.tasks.dispatcher import Dispatcher
from parley.tasks.memory_queue import MemoryTaskQueue
from parley.tasks.queue import TaskQueue
from parley.tasks.redis_queue import RedisTaskQueue
from parley.tasks.worker import Worker, WorkerConfig
from tests.support.processes import RedisServer
from tests.support.waiting import eventually


@register_command
@dataclass(frozen=True, slots=True)
class Probe(Command):
    """A test command: its handler does what the test says with ``n``."""

    name: ClassVar[str] = "test_probe"
    n: int


@register_command
@dataclass(frozen=True, slots=True)
class Unhandled(Command):
    """A test command every worker here knows, and none has a handler for."""

    name: ClassVar[str] = "test_unhandled"


FAST = WorkerConfig(
    concurrency=4,
    job_timeout=5,
    max_attempts=3,
    backoff_base=0.05,
    backoff_max=0.2,
    reclaim_after=0.5,
    grace_period=2,
    maintenance_interval=0.05,
)


@pytest.fixture(params=["memory", "redis"])
async def queue(
    request: pytest.FixtureRequest, redis_connection: redis.Redis, namespace: str
) -> AsyncIterator[TaskQueue]:
    if request.param == "memory":
        yield MemoryTaskQueue()
    else:
        yield RedisTaskQueue(redis_connection, namespace=namespace, reclaim_after=0.5)


class Running:
    """A worker running in the background of a test."""

    def __init__(
        self, queue: TaskQueue, handler: Callable[[Probe], Awaitable[None]], config: WorkerConfig
    ) -> None:
        dispatcher = Dispatcher()
        dispatcher.register(Probe, handler)
        self.worker = Worker(queue, dispatcher, config)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.worker.run(self.stop))

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def test_jobs_run_in_the_order_enqueued(queue: TaskQueue) -> None:
    seen: list[int] = []

    async def record(probe: Probe) -> None:
        seen.append(probe.n)

    for n in range(50):
        await queue.enqueue(Probe(n))
    running = Running(queue, record, WorkerConfig(concurrency=1, maintenance_interval=0.05))
    await eventually(lambda: len(seen) == 50)
    await running.shutdown()
    assert seen == list(range(50))
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight, stats.dead) == (0, 0, 0)


async def test_concurrency_is_limited(queue: TaskQueue) -> None:
    active, peak, done = 0, 0, 0
    release = asyncio.Event()

    async def held(_probe: Probe) -> None:
        """Runs until the test lets it go: the first jobs hold every slot, however slowly
        the worker hands them out."""
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        done += 1

    for n in range(20):
        await queue.enqueue(Probe(n))
    running = Running(queue, held, FAST)
    await eventually(lambda: active == FAST.concurrency)
    release.set()
    await eventually(lambda: done == 20)
    await running.shutdown()
    assert peak == FAST.concurrency


async def test_a_failing_job_is_retried_with_backoff_then_succeeds(queue: TaskQueue) -> None:
    attempts: list[float] = []

    async def flaky(_probe: Probe) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError("not yet")

    await queue.enqueue(Probe(1))
    running = Running(queue, flaky, FAST)
    await eventually(lambda: len(attempts) == 3)
    await eventually(lambda: running.worker.processed == 1)
    await running.shutdown()
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    # Backoff: the first retry waits at least half of 0.05 s, the second half of 0.1 s.
    assert gaps[0] >= 0.025
    assert gaps[1] >= 0.05
    stats = await queue.stats()
    assert (stats.retries, stats.dead, stats.delayed, stats.depth) == (2, 0, 0, 0)


async def test_a_job_that_always_fails_ends_in_the_dead_letters(queue: TaskQueue) -> None:
    calls = 0

    async def broken(_probe: Probe) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("always broken")

    job_id = await queue.enqueue(Probe(7))
    running = Running(queue, broken, FAST)
    await eventually(lambda: calls == FAST.max_attempts)
    dead = await eventually(queue.dead_letters)
    await running.shutdown()
    assert calls == FAST.max_attempts
    [letter] = dead
    assert letter.job.id == job_id
    assert letter.job.attempt == FAST.max_attempts
    assert "ValueError: always broken" in letter.reason
    assert (await queue.stats()).dead == 1


async def test_a_job_past_its_timeout_is_retried(queue: TaskQueue) -> None:
    calls = 0

    async def hangs_once(_probe: Probe) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(60)

    await queue.enqueue(Probe(1))
    config = WorkerConfig(
        concurrency=1,
        job_timeout=0.2,
        backoff_base=0.01,
        backoff_max=0.01,
        maintenance_interval=0.05,
    )
    running = Running(queue, hangs_once, config)
    await eventually(lambda: running.worker.processed == 1)
    await running.shutdown()
    assert calls == 2


async def test_an_unknown_command_is_buried_not_crashed_on(queue: TaskQueue) -> None:
    await queue.enqueue(Unhandled())
    seen: list[int] = []

    async def record(probe: Probe) -> None:
        seen.append(probe.n)

    await queue.enqueue(Probe(2))
    running = Running(queue, record, FAST)
    await eventually(lambda: seen == [2])
    dead = await eventually(queue.dead_letters)
    await running.shutdown()
    assert "no handler for test_unhandled" in dead[0].reason


async def test_graceful_shutdown_finishes_jobs_in_hand(queue: TaskQueue) -> None:
    finished: list[int] = []
    started = asyncio.Event()

    async def takes_a_moment(probe: Probe) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(probe.n)

    await queue.enqueue(Probe(1))
    running = Running(queue, takes_a_moment, FAST)
    await asyncio.wait_for(started.wait(), 10)
    await running.shutdown()
    assert finished == [1]
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight) == (0, 0)


async def test_shutdown_past_the_grace_period_gives_jobs_back(queue: TaskQueue) -> None:
    started = asyncio.Event()

    async def endless(_probe: Probe) -> None:
        started.set()
        await asyncio.sleep(60)

    await queue.enqueue(Probe(1))
    config = WorkerConfig(concurrency=1, grace_period=0.2, maintenance_interval=0.05)
    running = Running(queue, endless, config)
    await asyncio.wait_for(started.wait(), 10)
    await running.shutdown()
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight) == (1, 0)  # back in the queue, same attempt
    [lease] = await queue.claim("another-worker", 1, wait=1)
    assert lease.job.attempt == 1


async def test_a_dead_worker_s_job_is_reclaimed(
    queue: TaskQueue, request: pytest.FixtureRequest
) -> None:
    """A lease that is neither acked nor extended comes back as a further attempt. (The
    memory queue lives and dies with its only worker, so nothing there is reclaimed.)"""
    await queue.enqueue(Probe(5))
    [lease] = await queue.claim("worker-that-dies", 1, wait=1)
    if isinstance(queue, MemoryTaskQueue):
        assert request.node.callspec.params["queue"] == "memory"
        return
    seen: list[tuple[int, int]] = []

    async def record(probe: Probe) -> None:
        seen.append((probe.n, 0))

    running = Running(queue, record, FAST)
    await eventually(lambda: len(seen) == 1)
    await running.shutdown()
    assert seen == [(5, 0)]
    assert lease.job.attempt == 1
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight, stats.dead) == (0, 0, 0)


async def test_stats_count_what_waits(queue: TaskQueue) -> None:
    for n in range(3):
        await queue.enqueue(Probe(n))
    [lease] = await queue.claim("w", 1, wait=1)
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight) == (2, 1)
    await queue.retry(lease, delay=60)
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight, stats.delayed, stats.retries) == (2, 0, 1, 1)


async def test_acking_several_leases_at_once_forgets_exactly_those(queue: TaskQueue) -> None:
    for n in range(5):
        await queue.enqueue(Probe(n))
    leases = await queue.claim("consumer-a", count=5, wait=1)
    assert len(leases) == 5
    await queue.ack(leases[:3])
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight) == (0, 2)
    await queue.ack(leases[3:])
    await queue.ack([])  # nothing to ack is not an error
    stats = await queue.stats()
    assert (stats.depth, stats.in_flight, stats.dead) == (0, 0, 0)


async def test_a_claim_from_a_redis_that_stopped_answering_fails_in_time(
    private_redis: RedisServer,
) -> None:
    """Redis gone silent with the connection open (a host lost, a partition): the claim fails
    within the reply timeout, so the worker logs it, retries and notices SIGTERM, instead of
    waiting for TCP to give up; once Redis answers again, claims work."""
    client = redis_client(private_redis.url)
    queue = RedisTaskQueue(client, namespace="t", reclaim_after=30)
    try:
        assert await queue.claim("c", 1, wait=0.1) == []  # the group exists
        private_redis.freeze()
        async with asyncio.timeout(REDIS_REPLY_TIMEOUT_SECONDS + 5):
            with pytest.raises(RedisTimeoutError):
                await queue.claim("c", 1, wait=0.5)
        private_redis.thaw()
        assert await queue.claim("c", 1, wait=0.1) == []
    finally:
        private_redis.thaw()
        await client.aclose()
