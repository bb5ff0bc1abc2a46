"""One redis-py ``PubSub`` connection of the listener (``pubsub_listener.py``), and what was
asked on it that waits for Redis's answer.

``PubSub`` only sends a SUBSCRIBE, an UNSUBSCRIBE or a PING; their answers come back among
the messages, to the one task that reads them, which hands each to its request here. A
connection that fails a request, or leaves one unanswered too long, is dropped: the listener
makes another.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

__all__ = ["FAILURES", "Answer", "PubSubConnection"]

log = logging.getLogger(__name__)

_ANSWER_SECONDS = 5.0  # a frozen Redis holds neither a joining nor a leaving socket longer
_HEALTH_CHECK_SECONDS = 10.0  # when the client sets no health-check interval of its own

# How Redis fails a connection: redis-py's errors, and the socket's (``TimeoutError`` among them).
FAILURES = (RedisError, OSError)


class Answer(enum.Enum):
    GIVEN = enum.auto()
    REFUSED = enum.auto()  # logged where it is heard
    LOST = enum.auto()  # the connection went first, or Redis took too long


class PubSubConnection:
    """One ``PubSub`` connection, and what was asked on it that waits for Redis's answer.

    Redis answers in the order it was asked, so each answer (a subscription's confirmation, an
    unsubscription's, a pong) goes to the oldest request of its kind, and a refusal, which
    names no channel, to the oldest subscription.
    """

    def __init__(self, pubsub: PubSub) -> None:
        # Connected by ``PubSub.connect``; redis-py annotates the attribute as ever None.
        link: AbstractConnection | None = pubsub.connection
        if link is None:
            raise RedisConnectionError("PubSub.connect() left no connection")
        self.pubsub = pubsub
        self._link = link
        # redis-py would make a lost connection again by itself, inside a read, resubscribe and
        # carry on, and the listener would not know to say ``Reconnected``: no retry here. The
        # pool's own is given back with the connection.
        self._pool_retry = link.retry
        link.retry = Retry(NoBackoff(), 0, supported_errors=())
        self.health_check_seconds = float(link.health_check_interval or _HEALTH_CHECK_SECONDS)
        self._sending = asyncio.Lock()  # requests go out in the order they are listed
        self._waiting: dict[str, deque[tuple[str, asyncio.Future[Answer]]]] = {
            "subscribe": deque(),
            "unsubscribe": deque(),
            "pong": deque(),
        }
        self.subscribed: set[str] = set()  # asked for here and not given up
        self.sent = asyncio.Event()  # the reader reads once something is subscribed
        self.deadline: asyncio.Timeout | None = None  # the reader's, while it reads
        self.lost = False

    async def subscribe(self, channel: str) -> asyncio.Future[Answer]:
        self.subscribed.add(channel)
        return await self._ask("subscribe", channel, lambda: self.pubsub.subscribe(channel))

    async def unsubscribe(self, channel: str) -> asyncio.Future[Answer]:
        if channel not in self.subscribed:
            return _answered(Answer.GIVEN)  # never asked for here: nothing comes from it
        self.subscribed.discard(channel)
        return await self._ask("unsubscribe", channel, lambda: self.pubsub.unsubscribe(channel))

    async def ping(self) -> asyncio.Future[Answer]:
        return await self._ask("pong", "", self.pubsub.ping)

    async def _ask(
        self, answer_kind: str, channel: str, send: Callable[[], Awaitable[Any]]
    ) -> asyncio.Future[Answer]:
        """Send a request and return its answer, to come: the reader hears it."""
        answer = asyncio.get_running_loop().create_future()
        async with self._sending:
            # Checked with nothing awaited before redis-py's own check: it would connect again.
            if self.lost or not self._link.is_connected:
                self.drop("lost its connection")
                return _answered(Answer.LOST)
            self._waiting[answer_kind].append((channel, answer))
            try:
                await send()
            except FAILURES as error:
                self.drop(f"failed a request ({type(error).__name__}: {error})")
        self.sent.set()
        return answer

    async def answer(self, answer: asyncio.Future[Answer], what: str) -> Answer:
        """Wait for an answer; a connection that gives none in time is dropped."""
        try:
            async with asyncio.timeout(_ANSWER_SECONDS):
                return await answer
        except TimeoutError:
            self.drop(f"did not answer {what} within {_ANSWER_SECONDS:g} s")
            return Answer.LOST

    def answered(self, message: dict[str, Any] | None) -> None:
        """A reply other than a message, as ``PubSub.handle_message`` reads it."""
        waiting = self._waiting.get(message["type"]) if message is not None else None
        if waiting:
            _settle(waiting.popleft()[1], Answer.GIVEN)

    def refused(self, error: ResponseError) -> None:
        waiting = self._waiting["subscribe"]
        if not waiting:
            log.error("redis refused a pub/sub request: %s", error)
            return
        channel, answer = waiting.popleft()
        log.error("redis refused to subscribe %s: %s", channel, error)
        _settle(answer, Answer.REFUSED)

    def drop(self, why: str) -> None:
        """Give up the connection (``why`` follows "redis pub/sub" in the log): what waits is
        lost, and the reader stops reading it."""
        if self.lost:
            return
        log.warning("redis pub/sub %s; dropping the connection", why)
        self._lose()
        if self.deadline is not None:
            self.deadline.reschedule(asyncio.get_running_loop().time())

    async def close(self) -> None:
        self._lose()
        # Not under a request half sent: redis-py writes it in a task of its own, which would
        # find the connection gone.
        async with self._sending:
            self._link.retry = self._pool_retry
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    def _lose(self) -> None:
        self.lost = True
        for waiting in self._waiting.values():
            while waiting:
                _settle(waiting.popleft()[1], Answer.LOST)


def _answered(answer: Answer) -> asyncio.Future[Answer]:
    future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    future.set_result(answer)
    return future


def _settle(waiter: asyncio.Future[Answer], answer: Answer) -> None:
    """Give a waiter its answer, unless it stopped waiting (its time ran out)."""
    if not waiter.done():
        waiter.set_result(answer)
