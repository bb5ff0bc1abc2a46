"""The publishing half of the Redis broker: events wait in a list, and one task sends all that
wait as one redis-py pipeline.

A publish never waits for Redis: it lists its event and returns. While a batch is out, what is
published meanwhile waits, and goes together in the next; one task sends the batches, in
order, so one publisher's order is kept.

A batch that fails on its connection (a Redis restart, a killed connection, no answer within
the client's socket timeout) stays first in the list and goes again once Redis answers (after
the retries of the client's own policy, if it has one). So an event may arrive twice: the hub
drops a room message it has seen by its seq; the events without one (typing, presence, edits,
uploads' status) bear repeating. The list holds at most 10,000 events, so while Redis cannot
be reached the rest are dropped, logged once per outage: readers recover them from the
database, as any event lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["PipelinedPublisher"]

log = logging.getLogger(__name__)

_MAX_WAITING = 10_000
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 2.0
_CLOSE_SECONDS = 2.0  # to send what is left when the process stops

# How a connection fails: redis-py's errors, and the socket's.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)

Event = tuple[str, bytes]


class PipelinedPublisher:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._waiting: list[Event] = []  # in order; the first ones are out while a batch is
        self._listed = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._failing = False  # since the last batch that went out
        self._dropped = 0  # since the last batch that went out
        self._closed = False

    def publish(self, channel: str, data: bytes) -> None:
        if self._closed:
            self._drop("the process is stopping")
        elif len(self._waiting) >= _MAX_WAITING:
            self._drop(f"{_MAX_WAITING} events wait for Redis")
        else:
            self._waiting.append((channel, data))
            self._listed.set()
            if self._sender is None:
                self._sender = asyncio.create_task(self._send_waiting())

    async def close(self) -> None:
        """Send what waits, for a short while at most: Redis may be unreachable."""
        self._closed = True
        self._listed.set()
        sender = self._sender
        if sender is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(sender), _CLOSE_SECONDS)
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._drop("the process is stopping", len(self._waiting))

    async def _send_waiting(self) -> None:
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            if not self._waiting:
                if self._closed:
                    return
                self._listed.clear()
                await self._listed.wait()
                continue
            count = len(self._waiting)
            try:
                await self._send(self._waiting[:count])
            except _LOST as error:
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "could not publish (%s: %s); sending again once Redis answers",
                        type(error).__name__,
                        error,
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            except Exception:
                # Not the connection: the same batch would fail again.
                log.exception("could not publish %d events; dropped", count)
                del self._waiting[:count]
                continue
            del self._waiting[:count]
            backoff = _FIRST_BACKOFF_SECONDS
            if self._failing or self._dropped:
                log.warning("publishing again, after %d events dropped", self._dropped)
                self._failing, self._dropped = False, 0

    async def _send(self, batch: list[Event]) -> None:
        pipeline = self._client.pipeline(transaction=False)
        for channel, data in batch:
            pipeline.publish(channel, data)
        replies = await pipeline.execute(raise_on_error=False)
        refused = [reply for reply in replies if isinstance(reply, Exception)]
        if refused:  # an ACL without the channel, say: sending it again would not help
            log.warning("redis refused %d of %d events: %s", len(refused), len(batch), refused[0])

    def _drop(self, why: str, count: int = 1) -> None:
        if count and not self._dropped:
            log.warning("dropping events (%s); readers recover them from the database", why)
        self._dropped += count
