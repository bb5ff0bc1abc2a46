"""The queue peer: taskiq on taskiq-redis's stream broker, with acknowledgement and reclaim on.

``RedisStreamBroker`` reads with ``XREADGROUP``; taskiq acknowledges each job (``XACK``) once it
is done (its default, ``--ack-type when_saved``), and each worker ``XAUTOCLAIM``s the jobs left
unacknowledged longer than ``idle_timeout``. Everything else is at taskiq's defaults, but for
its log level: at info it writes a line per job, which Parley does not. The worker reads its
Redis and key prefix from the environment::

    BENCH_REDIS_URL=redis://… BENCH_QUEUE_NAMESPACE=bench-taskiq \\
        python -m taskiq worker bench.peers.taskiq_queue:broker --workers 1 --log-level WARNING

The ``wait_probe`` task prints ``waited <seconds> s``, the time from its sending to its start.
"""

from __future__ import annotations

import os
import time

from taskiq_redis import RedisStreamBroker

__all__ = ["broker", "noop", "stream_broker", "wait_probe"]

# What a dead worker held goes to another after 30 s: Parley's default (taskiq-redis's is 600 s).
RECLAIM_AFTER_MS = 30_000


def stream_broker(redis_url: str, namespace: str) -> RedisStreamBroker:
    return RedisStreamBroker(
        redis_url,
        queue_name=f"{namespace}:jobs",
        consumer_group_name=f"{namespace}:workers",
        idle_timeout=RECLAIM_AFTER_MS,
    )


broker = stream_broker(
    os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BENCH_QUEUE_NAMESPACE", "bench-taskiq"),
)


@broker.task(task_name="noop")
async def noop() -> None:
    pass


@broker.task(task_name="wait_probe")
async def wait_probe(sent_at: float) -> None:
    print(f"waited {time.time() - sent_at:.6f} s", flush=True)
