"""The Observer on each instance: which local sockets watch which rooms, fed by one listener.

Every instance subscribes its broker to the channels of the rooms (and users) it has
sockets for, and runs one listener task that hands each event to those sockets. Postgres
is the record and the broker is only transport, so three mechanisms recover what the
broker loses: a gap that does not close within ``gap_timeout`` is read from the database;
after the broker reconnects every room is re-read; and every ``reconcile_interval`` the
rooms' ``last_seq`` are compared with what was delivered, which catches an event lost
with no later event to reveal the gap.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

from parley.realtime.broker import Broker, Delivery
from parley.realtime.channels import room_channel_prefix, user_channel_prefix
from parley.realtime.connection import Connection, RoomEvent
from parley.realtime.envelope import Outbound, decode_envelope
from parley.realtime.feed import RoomFeed
from parley.realtime.history import PAGE_SIZE, History

__all__ = ["Hub"]

log = logging.getLogger(__name__)


class _Room:
    __slots__ = ("feed", "fill_once_started", "filling", "gap_timer", "id", "sockets")

    def __init__(self, room_id: uuid.UUID) -> None:
        self.id = room_id
        self.feed = RoomFeed()
        self.sockets: set[Connection] = set()
        self.gap_timer: asyncio.TimerHandle | None = None
        self.filling = False
        # A re-read asked for while the feed was starting (the broker reconnected between
        # its subscription and its read of the room): done once it has started.
        self.fill_once_started = False


class Hub:
    def __init__(
        self,
        broker: Broker,
        history: History,
        *,
        namespace: str,
        gap_timeout: float = 0.25,
        reconcile_interval: float = 5.0,
        on_delivered: Callable[[float | None, int], None] = lambda _latency, _frames: None,
    ) -> None:
        self._broker = broker
        # Counts the messages sockets wrote at once, as the hub hands them out: one call for
        # a room's sockets, not one each (``Connection.deliver``).
        self._on_delivered = on_delivered
        self._history = history
        # The channels ``ChannelPublisher`` publishes to; the hub only listens.
        self._room_prefix = room_channel_prefix(namespace)
        self._user_prefix = user_channel_prefix(namespace)
        self._gap_timeout = gap_timeout
        self._reconcile_interval = reconcile_interval
        self._rooms: dict[uuid.UUID, _Room] = {}
        self._channels: dict[str, _Room] = {}  # the same rooms, by their broker channel
        self._users: defaultdict[uuid.UUID, set[Connection]] = defaultdict(set)
        self._background: set[asyncio.Task[Any]] = set()
        self.connections: set[Connection] = set()

    # --- local sockets -----------------------------------------------------------------

    async def register(self, connection: Connection) -> None:
        self.connections.add(connection)
        sockets = self._users[connection.user_id]
        sockets.add(connection)
        if len(sockets) == 1:
            await self._broker.subscribe(f"{self._user_prefix}{connection.user_id}")

    async def unregister(self, connection: Connection) -> None:
        self.connections.discard(connection)
        for room_id in connection.rooms:
            await self.leave_room(connection, room_id)
        sockets = self._users.get(connection.user_id)
        if sockets is not None:
            sockets.discard(connection)
            if not sockets:
                del self._users[connection.user_id]
                await self._broker.unsubscribe(f"{self._user_prefix}{connection.user_id}")

    # Brokers keep the channels they were asked for and subscribe them again when they are
    # back (see RedisBroker), so the local bookkeeping above never waits on Redis being up.

    async def join_room(
        self, connection: Connection, room_id: uuid.UUID, since: int | None
    ) -> None:
        # The socket is among the room's sockets before its subscription's catch-up reads the
        # membership: a departure committed after that read reaches it (``_dispatch``).
        on_left = functools.partial(self._release, connection, room_id)
        room = self._rooms.get(room_id)
        if room is not None:
            connection.subscribe(room_id, since, on_left)
            room.sockets.add(connection)
            return
        channel = f"{self._room_prefix}{room_id}"
        room = self._rooms[room_id] = self._channels[channel] = _Room(room_id)
        room.sockets.add(connection)
        try:
            last_seq = await self._listen_to(room)
        except BaseException:
            await self.leave_room(connection, room_id)  # no half-started room stays behind
            if self._rooms.get(room_id) is room:
                # Sockets joined while it was starting (this one closed, or the read failed):
                # the room still starts, for them.
                self._spawn(self._start_for_those_left(room))
            raise
        connection.subscribe(room_id, since, on_left)
        self._start(room, last_seq, newcomer=connection)

    async def _listen_to(self, room: _Room) -> int:
        """Subscribe to the room's channel, then read where the room stands: whatever commits
        after the read is published after we listen, so nothing falls between the two."""
        await self._broker.subscribe(f"{self._room_prefix}{room.id}")
        return await self._history.last_seq(room.id)

    def _start(self, room: _Room, last_seq: int, newcomer: Connection | None = None) -> None:
        # A socket's catch-up reads where the room stands on its own. The newcomer's read
        # comes after ``last_seq``'s, so it starts where the feed does or later; sockets that
        # joined while the feed was starting may have read earlier, and fill up to it.
        for joined in room.sockets:
            if joined is not newcomer:
                joined.fill_to(room.id, last_seq)
        self._dispatch(room, room.feed.start(last_seq))
        if room.fill_once_started:
            room.fill_once_started = False
            self._spawn(self._fill(room.id))

    async def _start_for_those_left(self, room: _Room) -> None:
        while self._rooms.get(room.id) is room:
            try:
                last_seq = await self._listen_to(room)
            except Exception:
                log.exception("could not start room %s; retrying", room.id)
                await asyncio.sleep(1)
                continue
            if self._rooms.get(room.id) is room:
                self._start(room, last_seq)
            return

    async def leave_room(self, connection: Connection, room_id: uuid.UUID) -> None:
        connection.unsubscribe(room_id)
        await self._let_go(connection, room_id)

    async def _let_go(self, connection: Connection, room_id: uuid.UUID) -> None:
        """Deliver the room to this socket no more; stop listening if it was the last."""
        if self._detach(connection, room_id):
            await self._broker.unsubscribe(f"{self._room_prefix}{room_id}")

    def _release(self, connection: Connection, room_id: uuid.UUID) -> None:
        """The socket's subscription ended as its user is no member of the room any more
        (``Connection.subscribe``'s ``on_left``): let go of it at once, in the caller's turn,
        before anything else can join the room again on this socket."""
        if self._detach(connection, room_id):
            self._spawn(self._unsubscribe_unwatched(room_id))

    async def _unsubscribe_unwatched(self, room_id: uuid.UUID) -> None:
        channel = f"{self._room_prefix}{room_id}"
        if channel not in self._channels:  # not listened to again meanwhile
            await self._broker.unsubscribe(channel)

    def _detach(self, connection: Connection, room_id: uuid.UUID) -> bool:
        """Take the socket off the room's list; True when no local socket watches it now."""
        room = self._rooms.get(room_id)
        if room is None:
            return False
        room.sockets.discard(connection)
        if room.sockets:
            return False
        del self._rooms[room_id]
        del self._channels[f"{self._room_prefix}{room_id}"]
        if room.gap_timer is not None:
            room.gap_timer.cancel()
        return True

    async def close_all(self, code: int, reason: str) -> None:
        for connection in list(self.connections):
            connection.close(code, reason)

    # --- the listener --------------------------------------------------------------------

    async def run(self) -> None:
        """Listen until cancelled: the one consumer of this process's broker."""
        housekeeper = asyncio.create_task(self._housekeep_forever())
        try:
            while True:
                try:
                    await self._listen()
                except Exception:
                    # Whatever broke, delivery must go on: listen again, and re-read the rooms.
                    log.exception("the broker listener failed; restarting it")
                    await asyncio.sleep(1)
                    self._refill_all()
        finally:
            housekeeper.cancel()
            for task in list(self._background):
                task.cancel()

    async def _listen(self) -> None:
        async for event in self._broker.events():
            if isinstance(event, Delivery):
                try:
                    self._on_delivery(event)
                except Exception:
                    log.exception("could not handle an event on %s", event.channel)
            else:
                log.info("broker reconnected: re-reading %d rooms", len(self._rooms))
                self._refill_all()

    def _refill_all(self) -> None:
        for room_id in list(self._rooms):
            self._spawn(self._fill(room_id))

    def _on_delivery(self, delivery: Delivery) -> None:
        channel = delivery.channel
        room = self._channels.get(channel)
        if room is not None:
            self._dispatch(room, room.feed.accept(decode_envelope(delivery.data)))
        elif channel.startswith(self._user_prefix):
            user_id = uuid.UUID(channel[len(self._user_prefix) :])
            event = decode_envelope(delivery.data)
            for connection in self._users.get(user_id, ()):
                connection.send(event.frame)

    def _dispatch(self, room: _Room, events: list[Outbound]) -> None:
        for event in events:
            # One item per event, shared by every socket: no per-socket work but the hand-over.
            item = RoomEvent(room.id, event)
            if event.exclude_user is None and event.departing_user is None:
                written = 0
                for connection in room.sockets:
                    written += connection.deliver(item)
            else:
                written = self._dispatch_selectively(room, item)
            if written:
                self._on_delivered(event.latency(), written)
        if self._rooms.get(room.id) is not room:
            return  # its last socket left with one of these events
        if room.feed.missing() is None:
            if room.gap_timer is not None:
                room.gap_timer.cancel()
                room.gap_timer = None
        elif room.gap_timer is None:
            room.gap_timer = asyncio.get_running_loop().call_later(
                self._gap_timeout, self._gap_timed_out, room.id
            )

    def _dispatch_selectively(self, room: _Room, item: RoomEvent) -> int:
        """An event that one user does not get (typing), or after which one user's
        subscription ends (their "left" message). Returns how many sockets wrote it at once."""
        event = item.event
        written = 0
        for connection in list(room.sockets):
            if event.exclude_user != connection.user_id:
                written += connection.deliver(item)
            if event.departing_user == connection.user_id and event.seq is not None:
                # They left: this message is the last they get from the room, after those
                # still queued for them. The socket lets go of the room (``_release``) when
                # its subscription ends.
                connection.depart(room.id, event.seq)
        return written

    def _gap_timed_out(self, room_id: uuid.UUID) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            room.gap_timer = None
            self._spawn(self._fill(room_id))

    async def _fill(self, room_id: uuid.UUID) -> None:
        """Read from the database everything from the room's next expected seq on."""
        room = self._rooms.get(room_id)
        if room is not None and room.feed.expected is None:
            room.fill_once_started = True
            return
        if room is None or room.filling:
            return
        room.filling = True
        try:
            while True:
                expected = room.feed.expected
                assert expected is not None  # noqa: S101
                page = await self._history.after(room_id, expected - 1)
                for event in page:
                    self._dispatch(room, room.feed.accept(event))
                if len(page) < PAGE_SIZE or self._rooms.get(room_id) is not room:
                    break
        except Exception:
            log.exception("could not read room %s from the database; will retry", room_id)
        finally:
            room.filling = False

    async def _housekeep_forever(self) -> None:
        """Every ``reconcile_interval``: end the writers of idle sockets, reconcile the rooms."""
        while True:
            await asyncio.sleep(self._reconcile_interval)
            for connection in self.connections:
                connection.end_idle_writer()
            try:
                await self._reconcile()
            except Exception:
                log.exception("reconciling rooms with the database failed")

    async def _reconcile(self) -> None:
        if not self._rooms:
            return
        last_seqs = await self._history.last_seqs(list(self._rooms))
        for room_id, last_seq in last_seqs.items():
            room = self._rooms.get(room_id)
            if room is None or room.feed.expected is None:
                continue
            if last_seq >= room.feed.expected:
                self._spawn(self._fill(room_id))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
