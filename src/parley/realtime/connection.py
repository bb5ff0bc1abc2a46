"""One WebSocket on this instance: its bounded send queue, its room cursors, its send loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from parley.realtime.envelope import Outbound
from parley.realtime.frames import SubscribedFrame
from parley.realtime.history import PAGE_SIZE, History

__all__ = ["CLOSE_TRY_AGAIN_LATER", "Connection", "FrameSink"]

CLOSE_TRY_AGAIN_LATER = 1013


class FrameSink(Protocol):
    """Where frames go: a Starlette WebSocket satisfies it."""

    async def send_text(self, data: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _RoomEvent:
    room_id: uuid.UUID
    event: Outbound


@dataclass(frozen=True, slots=True)
class _CatchUp:
    room_id: uuid.UUID
    since_seq: int | None


_Item: TypeAlias = _RoomEvent | _CatchUp | str


class Connection:
    """The Observer's observer: the hub pushes events, the send loop writes them in order.

    The queue is bounded. A client that reads too slowly fills it, and is then closed with
    1013 instead of growing this process's memory; it reconnects and resumes with
    ``since_seq``. For each subscribed room the connection keeps the last seq it wrote: a
    seq at or below it is a duplicate and skipped, a seq beyond the next one means a gap,
    filled from the database before going on. So whatever reaches the queue, the client
    sees each room's messages in order, once each.
    """

    def __init__(
        self,
        sink: FrameSink,
        user_id: uuid.UUID,
        history: History,
        *,
        max_queue: int,
        on_delivered: Callable[[float | None], None] = lambda _latency: None,
    ) -> None:
        self.id = uuid.uuid4()
        self.user_id = user_id
        self._sink = sink
        self._history = history
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queue)
        # Room -> last seq written; None while the subscription's catch-up is pending.
        self._cursors: dict[uuid.UUID, int | None] = {}
        self.close_code: int | None = None
        self.close_reason = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._on_delivered = on_delivered

    # --- fed by the hub and the receive loop -------------------------------------

    def deliver(self, room_id: uuid.UUID, event: Outbound) -> None:
        self._put(_RoomEvent(room_id, event))

    def send(self, frame: str) -> None:
        self._put(frame)

    def subscribe(self, room_id: uuid.UUID, since_seq: int | None) -> None:
        """Start a room: replay after ``since_seq`` (or start at the newest), then live."""
        self._cursors[room_id] = None
        self._put(_CatchUp(room_id, since_seq))

    def unsubscribe(self, room_id: uuid.UUID) -> None:
        self._cursors.pop(room_id, None)

    @property
    def rooms(self) -> list[uuid.UUID]:
        return list(self._cursors)

    def is_subscribed(self, room_id: uuid.UUID) -> bool:
        return room_id in self._cursors

    # --- lifecycle ------------------------------------------------------------------

    def attach(self, *tasks: asyncio.Task[None]) -> None:
        """The receive and send loops: closing the connection cancels both."""
        self._tasks = list(tasks)

    def close(self, code: int | None, reason: str = "") -> None:
        """End both loops; the endpoint then closes the socket with ``code`` (if any)."""
        if self.close_code is None and code is not None:
            self.close_code, self.close_reason = code, reason
        for task in self._tasks:
            task.cancel()

    def _put(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close(CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since_seq")

    # --- the send loop ------------------------------------------------------------------

    async def send_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, str):
                await self._sink.send_text(item)
            elif isinstance(item, _RoomEvent):
                await self._send_room_event(item.room_id, item.event)
            else:
                await self._catch_up(item.room_id, item.since_seq)

    async def _send_room_event(self, room_id: uuid.UUID, event: Outbound) -> None:
        if room_id not in self._cursors:
            return  # unsubscribed since the event was queued
        cursor = self._cursors[room_id]
        if event.seq is None:
            if cursor is not None:
                await self._sink.send_text(event.frame)
            return
        if cursor is None or event.seq <= cursor:
            # Before the catch-up: the catch-up's read will include it. At or below the
            # cursor: already written.
            return
        if event.seq > cursor + 1:
            await self._write_from_history(room_id, cursor, upto=event.seq - 1)
        await self._sink.send_text(event.frame)
        self._cursors[room_id] = event.seq
        at = event.published_at
        self._on_delivered(None if at is None else time.time() - at)

    async def _catch_up(self, room_id: uuid.UUID, since_seq: int | None) -> None:
        if room_id not in self._cursors:
            return
        if since_seq is None:
            last = await self._history.last_seq(room_id)
        else:
            last = await self._write_from_history(room_id, since_seq, upto=None)
        if room_id in self._cursors:
            self._cursors[room_id] = last
            frame = SubscribedFrame(room_id=room_id, last_seq=last)
            await self._sink.send_text(frame.model_dump_json())

    async def _write_from_history(self, room_id: uuid.UUID, after: int, upto: int | None) -> int:
        """Write the stored messages after ``after`` (up to ``upto``); return the last seq."""
        last = after
        while upto is None or last < upto:
            page = await self._history.after(room_id, last, PAGE_SIZE)
            for event in page:
                if upto is not None and event.seq is not None and event.seq > upto:
                    return last
                await self._sink.send_text(event.frame)
                self._on_delivered(None)
                assert event.seq is not None  # noqa: S101
                last = event.seq
            if len(page) < PAGE_SIZE:
                break
        return last
