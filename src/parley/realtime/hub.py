"""The Observer on each instance: which subscriptions watch which rooms, fed by one listener.

Every instance subscribes its broker to the channels of the rooms (and users) it has
sockets for, and runs one listener task that hands each event to those sockets. A room's
``RoomFeed`` is the one owner of its order here: every subscription of the room gets each
event from it once, in seq order (``subscription.py``). Postgres is the record and the
broker is only transport, so three mechanisms recover what the broker loses, into the feed:
a gap that does not close within ``gap_timeout`` is read from the database; after the broker
reconnects every room is re-read; and every ``reconcile_interval`` the rooms' ``last_seq``
are compared with what was delivered, which catches an event lost with no later event to
reveal the gap.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeAlias

from parley.realtime.broker import Broker, Delivery
from parley.realtime.channels import room_channel_prefix, user_channel_prefix
from parley.realtime.connection import Connection
from parley.realtime.envelope import Outbound, decode_envelope
from parley.realtime.feed import RoomFeed
from parley.realtime.history import PAGE_SIZE, History
from parley.realtime.room_event import RoomEvent
from parley.realtime.subscription import Subscription

__all__ = ["CallLater", "Hub", "Timer"]

log = logging.getLogger(__name__)


class Timer(Protocol):
    def cancel(self) -> None: ...


# Runs a callback after a delay: the event loop's ``call_later`` unless a test brings its clock.
CallLater: TypeAlias = Callable[[float, Callable[[], None]], Timer]


def _call_later(delay: float, callback: Callable[[], None]) -> Timer:
    return asyncio.get_running_loop().call_later(delay, callback)


class _Room:
    """A room on this instance: its feed, and the subscriptions the feed's events go to."""

    __slots__ = (
        "feed",
        "fill_once_started",
        "filling",
        "gap_timer",
        "id",
        "joining",
        "starting",
        "subscriptions",
    )

    def __init__(self, room_id: uuid.UUID) -> None:
        self.id = room_id
        self.feed = RoomFeed()
        # By socket; a dict rather than a set, so that sockets are served in the order
        # they joined, the same on every run.
        self.subscriptions: dict[Connection, Subscription] = {}
        # Sockets waiting in ``join_room`` for the feed to start: they keep the room open.
        self.joining = 0
        self.starting = asyncio.Lock()
        self.gap_timer: Timer | None = None
        self.filling = False
        # A re-read asked for while the feed was starting (the broker reconnected between
        # its subscription and its read of the room): done once it has started.
        self.fill_once_started = False

    @property
    def started(self) -> bool:
        return self.feed.expected is not None


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
        call_later: CallLater = _call_later,
    ) -> None:
        self._broker = broker
        # Counts the messages sockets wrote at once, as the hub hands them out: one call for
        # a room's sockets, not one each (``Subscription.deliver``).
        self._on_delivered = on_delivered
        self._history = history
        # The channels ``ChannelPublisher`` publishes to; the hub only listens.
        self._room_prefix = room_channel_prefix(namespace)
        self._user_prefix = user_channel_prefix(namespace)
        self._gap_timeout = gap_timeout
        self._reconcile_interval = reconcile_interval
        self._call_later = call_later
        self._rooms: dict[uuid.UUID, _Room] = {}
        self._channels: dict[str, _Room] = {}  # the same rooms, by their broker channel
        # Sockets in dicts rather than sets, to serve them in one order on every run.
        self._users: dict[uuid.UUID, dict[Connection, None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.connections: dict[Connection, None] = {}

    # --- local sockets -----------------------------------------------------------------

    async def register(self, connection: Connection) -> None:
        self.connections[connection] = None
        sockets = self._users.setdefault(connection.user_id, {})
        sockets[connection] = None
        if len(sockets) == 1:
            await self._broker.subscribe(f"{self._user_prefix}{connection.user_id}")

    async def unregister(self, connection: Connection) -> None:
        self.connections.pop(connection, None)
        for room_id in connection.rooms:
            await self.leave_room(connection, room_id)
        sockets = self._users.get(connection.user_id)
        if sockets is not None:
            sockets.pop(connection, None)
            if not sockets:
                del self._users[connection.user_id]
                await self._broker.unsubscribe(f"{self._user_prefix}{connection.user_id}")

    # Brokers keep the channels they were asked for and subscribe them again when they are
    # back (see RedisBroker), so the local bookkeeping above never waits on Redis being up.

    async def join_room(
        self, connection: Connection, room_id: uuid.UUID, since_seq: int | None
    ) -> Subscription:
        """Subscribe the socket to the room (replacing a subscription it had to it).

        The subscription is made once the room's feed has started here, and joins the room
        in the same turn, before its catch-up reads anything: it gets every event the feed
        hands out from then on, and its catch-up reads the room at least as far as the feed
        had come. A leave committed after that read publishes its "left" message after it, so
        the feed brings it; one committed before, the read sees.
        """
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(room_id)
            self._channels[f"{self._room_prefix}{room_id}"] = room
        if not room.started:
            room.joining += 1
            try:
                await self._start(room)
            finally:
                room.joining -= 1
                if not room.started and self._close_if_unwatched(room):
                    # No half-started room stays behind (this socket closed, or the read
                    # failed, and no other waits for it).
                    await self._broker.unsubscribe(f"{self._room_prefix}{room_id}")
        subscription = connection.subscribe(
            room_id, since_seq, functools.partial(self._release, connection)
        )
        room.subscriptions[connection] = subscription
        return subscription

    async def _start(self, room: _Room) -> None:
        """Start the room's feed: listen to its channel, then read where the room stands, so
        whatever commits after the read is published after we listen. One joining socket
        starts it while the others wait; should it fail, or its socket close, the next tries."""
        async with room.starting:
            if room.started:
                return
            await self._broker.subscribe(f"{self._room_prefix}{room.id}")
            last_seq = await self._history.last_seq(room.id)
            # Nobody subscribes before the feed starts: what it releases now is older than
            # any catch-up to come, and goes to no one.
            self._dispatch(room, room.feed.start(last_seq))
            if room.fill_once_started:
                room.fill_once_started = False
                self._spawn(self._fill(room.id))

    async def leave_room(self, connection: Connection, room_id: uuid.UUID) -> None:
        """End the socket's subscription to the room (asked for, or the socket's end), and
        stop listening to the room if no socket here watches it now."""
        subscription = connection.unsubscribe(room_id)
        room = self._rooms.get(room_id)
        if room is None or subscription is None:
            return
        if room.subscriptions.get(connection) is subscription:
            del room.subscriptions[connection]
            if self._close_if_unwatched(room):
                await self._broker.unsubscribe(f"{self._room_prefix}{room_id}")

    def _release(self, connection: Connection, subscription: Subscription) -> None:
        """The subscription departed, as its user is no member of the room any more
        (``Subscription.depart``, its ``on_left``): let go of it at once, in the caller's
        turn, before anything else can join the room again on this socket."""
        room = self._rooms.get(subscription.room_id)
        if room is not None and room.subscriptions.get(connection) is subscription:
            del room.subscriptions[connection]
            if self._close_if_unwatched(room):
                self._spawn(self._unsubscribe_unwatched(room.id))

    async def _unsubscribe_unwatched(self, room_id: uuid.UUID) -> None:
        channel = f"{self._room_prefix}{room_id}"
        if channel not in self._channels:  # not listened to again meanwhile
            await self._broker.unsubscribe(channel)

    def _close_if_unwatched(self, room: _Room) -> bool:
        """Forget the room if no subscription here watches it and no socket waits to; True
        if so (the caller stops listening to its channel)."""
        if room.subscriptions or room.joining or self._rooms.get(room.id) is not room:
            return False
        del self._rooms[room.id]
        del self._channels[f"{self._room_prefix}{room.id}"]
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
                for subscription in room.subscriptions.values():
                    written += subscription.deliver(item)
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
            room.gap_timer = self._call_later(
                self._gap_timeout, functools.partial(self._gap_timed_out, room.id)
            )

    def _dispatch_selectively(self, room: _Room, item: RoomEvent) -> int:
        """An event that one user does not get (typing), or that ends one user's
        subscriptions (their "left" message: they depart, and the hub lets go of them, as
        the loop runs). Returns how many sockets wrote it at once."""
        exclude_user = item.event.exclude_user
        written = 0
        for subscription in list(room.subscriptions.values()):
            if subscription.user_id != exclude_user:
                written += subscription.deliver(item)
        return written

    def _gap_timed_out(self, room_id: uuid.UUID) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            room.gap_timer = None
            self._spawn(self._fill(room_id))

    async def _fill(self, room_id: uuid.UUID) -> None:
        """Read from the database everything from the room's next expected seq on."""
        room = self._rooms.get(room_id)
        if room is not None and not room.started:
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
        while True:
            await asyncio.sleep(self._reconcile_interval)
            await self.housekeep()

    async def housekeep(self) -> None:
        """What the hub does every ``reconcile_interval``: end the writers of idle sockets,
        and reconcile the rooms with the database."""
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
            if room is None or not room.started:
                continue
            expected = room.feed.expected
            assert expected is not None  # noqa: S101
            if last_seq >= expected:
                self._spawn(self._fill(room_id))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
