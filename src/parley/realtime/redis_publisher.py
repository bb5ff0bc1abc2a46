"""The publishing half of the Redis broker: one connection, and a publish is one write.

A send's event is published from the send's own path, so a publish never waits: it writes
``PUBLISH`` on a ``RedisLink`` of its own (``redis_link.py``) and returns, and the replies
are read as they come, by the event loop's callbacks, with no task woken per event. The
connection's write buffer groups what a busy instance publishes while the socket is full.

Nothing is lost to a connection that dies (a Redis restart, ``CLIENT KILL``): events stay
listed until Redis has answered them, and those unanswered when it dies go out again,
first, on the next connection, so an event may arrive twice (the hub drops a room event it
has seen by its seq). What cannot be written at all is dropped with a warning: readers
recover it from the database, as any event lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import hiredis

from parley.realtime.redis_link import RedisAddress, RedisLink, Reply

__all__ = ["RedisPublisher"]

log = logging.getLogger(__name__)

_RETRY_SECONDS = 0.5  # after a failed connection, publishes are dropped this long
_MAX_WAITING = 10_000  # events held while a connection is being made
_MAX_BUFFERED_BYTES = 8 * 1024 * 1024  # written, not yet taken by Redis: it is not reading
_CLOSE_SECONDS = 2.0  # to write what is left when the process stops

Event = tuple[str, bytes]


class RedisPublisher:
    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._link: RedisLink | None = None
        self._unanswered: deque[Event] = deque()  # written on the link, in order
        self._waiting: list[Event] = []  # for the next link, in order
        self._connecting: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._dropped = 0  # since the last one that went out

    def publish(self, channel: str, data: bytes) -> None:
        link = self._link
        if link is None or link.is_closing:
            self._wait((channel, data))
        elif link.buffered > _MAX_BUFFERED_BYTES:
            self._drop("Redis is not reading")
        else:
            link.send("PUBLISH", channel, data)
            self._unanswered.append((channel, data))
            if self._dropped:
                log.warning("publishing again, after %d events dropped", self._dropped)
                self._dropped = 0

    async def close(self) -> None:
        if self._connecting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._connecting), _CLOSE_SECONDS)
            self._connecting.cancel()
        link = self._link
        if link is not None:
            self._link = None
            link.close()  # once what is written has gone out
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.closed), _CLOSE_SECONDS)
            link.abort()

    def _wait(self, event: Event) -> None:
        """No usable connection: the event waits for the next one, which is being made."""
        connecting = self._connecting is not None or self._link is not None  # lost, not yet seen
        if not connecting and asyncio.get_running_loop().time() < self._retry_at:
            self._drop("Redis was unreachable a moment ago")
        elif len(self._waiting) >= _MAX_WAITING:
            self._drop("too many events wait for a connection")
        else:
            self._waiting.append(event)
            if not connecting:
                self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            link = await RedisLink.open(self._address, self._on_reply, name="parley:pub")
        except (OSError, TimeoutError, hiredis.HiredisError) as error:
            log.warning("could not connect to publish (%s)", error)
            self._retry_at = asyncio.get_running_loop().time() + _RETRY_SECONDS
            for _ in self._waiting:
                self._drop("no connection")
            self._waiting.clear()
            return
        finally:
            self._connecting = None
        link.closed.add_done_callback(lambda _closed: self._on_lost(link))
        self._link = link
        waiting, self._waiting = self._waiting, []
        for channel, data in waiting:
            self.publish(channel, data)

    def _on_reply(self, reply: Reply) -> None:
        channel, _ = self._unanswered.popleft()
        if isinstance(reply, hiredis.ReplyError):
            log.warning("redis refused an event on %s: %s", channel, reply)

    def _on_lost(self, link: RedisLink) -> None:
        if link is not self._link:
            return  # closed on purpose
        self._link = None
        log.warning("redis publishing connection lost; reconnecting")
        # Written but not answered: perhaps never received. They go out again, first.
        self._waiting[:0] = self._unanswered
        self._unanswered.clear()
        if self._waiting and self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())

    def _drop(self, why: str) -> None:
        if not self._dropped:
            log.warning("dropping events (%s); readers recover them from the database", why)
        self._dropped += 1
