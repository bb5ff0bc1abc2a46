"""The publishing half of the Redis broker: one connection, and a publish is one write.

A send's event is published from the send's own path, so a publish never waits: it writes
``PUBLISH`` on a ``RedisLink`` of its own (``redis_link.py``) and returns, and the replies
are read as they come, by the event loop's callbacks, with no task woken per event. The
connection's write buffer groups what a busy instance publishes while the socket is full.

Nothing is lost to a connection that dies (a Redis restart, ``CLIENT KILL``) or goes
silent (a watchdog drops it after a health-check interval without an answer): events stay
listed until Redis has answered them, and those unanswered go out again, first, on the next
connection. So an event may arrive twice: the hub drops a room message it has seen by its
seq; the events without one (typing, presence, edits, uploads' status) bear repeating.
What cannot be written at all is dropped, logged once per outage: readers recover it from
the database, as any event lost on the way.
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
        self._answered = 0  # replies heard on the link: the watchdog's sign of life
        self._waiting: list[Event] = []  # for the next link, in order
        self._connecting: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._dropped = 0  # since the last one that went out
        self._closed = False

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
        self._closed = True
        connecting = self._connecting
        if connecting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(connecting), _CLOSE_SECONDS)
            connecting.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        link, self._link = self._link, None
        if link is not None:
            link.close()  # once what is written has gone out
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.closed), _CLOSE_SECONDS)
            link.abort()

    def _wait(self, event: Event) -> None:
        """No usable connection: the event waits for the next one, which is being made."""
        connecting = self._connecting is not None or self._link is not None  # lost, not yet seen
        if self._closed:
            self._drop("the process is stopping")
        elif not connecting and asyncio.get_running_loop().time() < self._retry_at:
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
            log.warning("could not connect to publish (%r)", error)
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
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch())

    def _on_reply(self, reply: Reply) -> None:
        self._answered += 1
        self._unanswered.popleft()
        if isinstance(reply, hiredis.ReplyError):
            self._drop(f"Redis refused it: {reply}")

    def _on_lost(self, link: RedisLink) -> None:
        if link is not self._link:
            return  # closed on purpose
        self._link = None
        log.warning("redis publishing connection lost; reconnecting")
        # Written but not answered: perhaps never received. They go out again, first.
        self._waiting[:0] = self._unanswered
        self._unanswered.clear()
        if self._waiting and self._connecting is None and not self._closed:
            self._connecting = asyncio.create_task(self._connect())

    async def _watch(self) -> None:
        """Drop a connection that leaves events unanswered for a whole health-check interval:
        a half-open one would otherwise hold them until TCP gives up, many minutes later.
        Dropping it sends them again on a new one."""
        interval = self._address.health_check_seconds
        answered, waited = self._answered, False
        while not self._closed:
            await asyncio.sleep(interval)
            link = self._link
            if link is not None and waited and self._answered == answered:
                log.warning("redis did not answer a publish for %.0f s; reconnecting", interval)
                link.abort()
            # Events outstanding now must hear an answer before the next look.
            answered, waited = self._answered, bool(self._unanswered)

    def _drop(self, why: str) -> None:
        if not self._dropped:
            log.warning("dropping events (%s); readers recover them from the database", why)
        self._dropped += 1
