"""The floor for a Python queue: the least a reliable Redis list consumer does per job.

A producer ``LPUSH``es a job onto ``<namespace>:jobs``. The consumer ``BLMOVE``s it into
``<namespace>:processing``, runs it, and only then ``LREM``s it: a consumer that dies mid-job
leaves the job in the processing list, and the next one puts it back before taking new ones.
One consumer, one job at a time, redis-py's blocking client: no event loop, no decoding.

A job is ``noop``, or the ``time.time()`` at which it was sent: then the consumer prints
``waited <seconds> s``, the time from its sending to its start::

    python -m bench.peers.floor_list_queue --redis redis://… --namespace bench-floor
"""

from __future__ import annotations

import argparse
import time

import redis

__all__ = ["NOOP", "queue_keys"]

NOOP = "noop"


def queue_keys(namespace: str) -> tuple[str, str]:
    """The list jobs wait in, and the list of the job being run."""
    return f"{namespace}:jobs", f"{namespace}:processing"


def consume(client: redis.Redis, namespace: str) -> None:
    jobs, processing = queue_keys(namespace)
    while client.lmove(processing, jobs, "LEFT", "RIGHT"):
        pass  # a dead consumer's unfinished job: first in line again
    while True:
        job = client.blmove(jobs, processing, 0, "RIGHT", "LEFT")
        assert isinstance(job, str)  # decoded replies; and no timeout, so never None
        if job != NOOP:
            print(f"waited {time.time() - float(job):.6f} s", flush=True)
        client.lrem(processing, 1, job)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True, help="redis:// URL")
    parser.add_argument("--namespace", required=True, help="prefix of the two lists' keys")
    arguments = parser.parse_args()
    consume(redis.Redis.from_url(arguments.redis, decode_responses=True), arguments.namespace)


if __name__ == "__main__":
    main()
