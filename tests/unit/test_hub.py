"""The hub starting a room on this process: the first socket to join reads where the room
stands while sockets that join meanwhile wait for that read, and a subscription is made only
once the room's feed has started (``tests/support/sockets.py`` holds the room's messages and
the sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from parley.realtime.broker import Reconnected
from parley.realtime.channels import ChannelPublisher
from parley.realtime.connection import Connection
from parley.realtime.envelope import Outbound
from parley.realtime.hub import Hub
from parley.realtime.memory_broker import MemoryBroker
from parley.realtime.subscription import SubscriptionState
from tests.support.sockets import Socket, StoredRoom, message_event
from tests.support.waiting import eventually

ROOM = uuid.UUID(int=1)


class SlowStart(StoredRoom):
    """A room whose first read of where it stands waits until ``go`` is set."""

    def __init__(self, last: int) -> None:
        super().__init__(last)
        self.reading = asyncio.Event()
        self.go = asyncio.Event()

    async def last_seq(self, room_id: uuid.UUID) -> int:
        if not self.reading.is_set():
            self.reading.set()
            await self.go.wait()
        return self.last


@contextlib.asynccontextmanager
async def listening_hub(
    room: StoredRoom, broker: MemoryBroker, *, reconcile_interval: float = 5.0
) -> AsyncIterator[tuple[Hub, ChannelPublisher]]:
    """A hub listening on ``broker`` for the length of a test, and a publisher onto it."""
    hub = Hub(broker, room, namespace="t", reconcile_interval=reconcile_interval)
    listening = asyncio.create_task(hub.run())
    try:
        yield hub, ChannelPublisher(broker, namespace="t")
    finally:
        listening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listening


def _connection(socket: Socket, room: StoredRoom) -> Connection:
    return Connection(
        uuid.uuid4(), socket.send, uuid.uuid4(), room, max_queue=100, write_now=socket.write_now
    )


async def test_a_room_whose_first_socket_closes_while_it_starts_starts_for_the_others() -> None:
    room = SlowStart(last=2)
    broker = MemoryBroker()
    async with listening_hub(room, broker) as (hub, channels):
        first, second = Socket(direct=True), Socket(direct=True)
        joining = asyncio.create_task(hub.join_room(_connection(first, room), ROOM, None))
        await room.reading.wait()
        # The room is starting: the second socket waits for it.
        joined = asyncio.create_task(hub.join_room(_connection(second, room), ROOM, None))
        await asyncio.sleep(0.01)
        assert not joined.done()
        joining.cancel()  # the first socket closed before the room had started
        with pytest.raises(asyncio.CancelledError):
            await joining
        async with asyncio.timeout(5):
            await joined  # it started the room itself
        await eventually(lambda: second.types() == ["subscribed"])

        room.last = 3  # a message stored and published after the second socket joined
        await channels.to_room(ROOM, message_event(3))
        await eventually(lambda: second.seqs() == [3])
        assert first.seqs() == []


class StaleStart(SlowStart):
    """A room whose first reads return before its last message: they say 2, and 3 is stored
    (the socket's own read, made as the room starts, too)."""

    async def last_seq(self, room_id: uuid.UUID) -> int:
        await super().last_seq(room_id)
        return 2

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        return 2


async def test_a_reconnection_while_a_room_starts_re_reads_it_once_started() -> None:
    """The broker was away when the room subscribed: message 3, stored after the room's read,
    was published into the void, and the broker's ``Reconnected`` came before the read
    returned. The room re-reads itself once started, not at the next reconciliation."""
    room = StaleStart(last=3)
    broker = MemoryBroker()
    async with listening_hub(room, broker, reconcile_interval=3600) as (hub, _channels):
        socket = Socket(direct=True)
        joining = asyncio.create_task(hub.join_room(_connection(socket, room), ROOM, None))
        await room.reading.wait()
        broker.receive(Reconnected())
        await asyncio.sleep(0.05)  # the hub has taken it while the room was starting
        room.go.set()
        await joining
        await eventually(lambda: socket.seqs() == [3])


@pytest.mark.parametrize("direct", [False, True], ids=["asgi send", "write now"])
async def test_a_member_who_leaves_gets_what_was_queued_for_them_then_the_left_message(
    direct: bool,
) -> None:
    """Their socket had stopped reading when they left: the messages queued for it, and
    the "left" message itself, still reach it before ``unsubscribed``; nothing after."""
    room = StoredRoom(last=0)
    broker = MemoryBroker()
    async with listening_hub(room, broker) as (hub, channels):
        socket, user = Socket(direct=direct), uuid.uuid4()
        connection = Connection(
            uuid.uuid4(), socket.send, user, room, max_queue=100, write_now=socket.write_now
        )
        await hub.join_room(connection, ROOM, None)
        await eventually(lambda: socket.types() == ["subscribed"])
        socket.open.clear()  # the client stops reading
        for seq in (1, 2):
            room.last = seq
            await channels.to_room(ROOM, message_event(seq))
        room.last = 3
        await channels.to_room(ROOM, replace(message_event(3), departing_user=user))
        await asyncio.sleep(0.05)  # the hub has handed all three over, and let the room go
        room.last = 4
        await channels.to_room(ROOM, message_event(4))
        await asyncio.sleep(0.05)
        socket.open.set()
        await eventually(lambda: socket.types()[-1:] == ["unsubscribed"])
        await asyncio.sleep(0.05)
        assert socket.seqs() == [1, 2, 3]
        assert socket.frames[-1] == {"type": "unsubscribed", "room_id": str(ROOM), "reason": "left"}
        assert not connection.is_subscribed(ROOM)


class LeavingRoom(SlowStart):
    """A room that ``leaver`` leaves with message ``left`` (once it is stored): the hub's
    first read of where it stands waits for ``go``, as in ``SlowStart``."""

    def __init__(self, last: int, leaver: uuid.UUID, left: int) -> None:
        super().__init__(last)
        self.leaver = leaver
        self.left = left

    def leave(self) -> Outbound:
        """The "left" message is stored, and the leaver is no member any more."""
        self.last = self.left
        self.former_members.add(self.leaver)
        return replace(message_event(self.left), departing_user=self.leaver)

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        page = await super().after(room_id, after_seq, limit)
        return [
            replace(event, departing_user=self.leaver) if event.seq == self.left else event
            for event in page
        ]


class RecordingBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.unsubscribed: list[str] = []

    async def unsubscribe(self, channel: str) -> None:
        self.unsubscribed.append(channel)
        await super().unsubscribe(channel)


def _member_socket(room: StoredRoom, user: uuid.UUID) -> tuple[Socket, Connection]:
    socket = Socket(direct=True)
    return socket, Connection(
        uuid.uuid4(), socket.send, user, room, max_queue=100, write_now=socket.write_now
    )


LEFT = {"type": "unsubscribed", "room_id": str(ROOM), "reason": "left"}


async def test_a_subscribe_that_comes_after_the_departure_is_refused_and_let_go() -> None:
    """The subscribe frame found them a member, and the "left" message went by before the
    socket joined the room: its catch-up reads the membership again and writes nothing of
    the room, and the hub stops listening to a room no socket watches."""
    leaver = uuid.uuid4()
    room = LeavingRoom(last=1, leaver=leaver, left=2)
    room.go.set()
    broker = RecordingBroker()
    async with listening_hub(room, broker) as (hub, channels):
        await channels.to_room(ROOM, room.leave())  # no socket of theirs here yet
        socket, connection = _member_socket(room, leaver)
        await hub.join_room(connection, ROOM, None)
        await eventually(lambda: broker.unsubscribed)
        assert broker.unsubscribed == ["t:room:" + str(ROOM)]
        assert socket.frames == [LEFT]
        assert not connection.is_subscribed(ROOM)
        await channels.to_room(ROOM, message_event(3))
        await asyncio.sleep(0.05)
        assert socket.frames == [LEFT]


async def test_a_member_who_left_while_the_room_started_is_stopped_at_their_departure() -> None:
    """The leaver's socket subscribed (the frame found them a member) while the room was
    starting; they left before the hub's read, so the room's feed starts after their "left"
    message and hands it to nobody. Their subscription, made once the feed has started,
    reads the membership after the leave: nothing of the room, not even ``subscribed``."""
    leaver = uuid.uuid4()
    room = LeavingRoom(last=1, leaver=leaver, left=2)
    broker = MemoryBroker()
    async with listening_hub(room, broker) as (hub, channels):
        other, other_connection = _member_socket(room, uuid.uuid4())
        starting = asyncio.create_task(hub.join_room(other_connection, ROOM, None))
        await room.reading.wait()
        socket, connection = _member_socket(room, leaver)
        joining = asyncio.create_task(hub.join_room(connection, ROOM, None))
        await channels.to_room(ROOM, room.leave())  # before the room has started
        room.go.set()
        await starting
        await joining
        room.last = 3
        await channels.to_room(ROOM, message_event(3))
        await eventually(lambda: other.seqs() == [3])
        await asyncio.sleep(0.05)
        assert socket.frames == [LEFT]
        assert not connection.is_subscribed(ROOM)


@pytest.mark.parametrize("since_seq", [None, 0], ids=["fresh", "resumed"])
async def test_a_socket_that_joins_while_the_room_starts_misses_nothing_committed_meanwhile(
    since_seq: int | None,
) -> None:
    """Messages 2 and 3 commit while the room starts, and no event of theirs reaches this
    instance (published before it listened): each socket's catch-up, which reads only once
    the room's feed has started, covers them; the feed brings what comes after."""
    room = SlowStart(last=1)
    broker = MemoryBroker()
    async with listening_hub(room, broker) as (hub, channels):
        first, second = Socket(direct=True), Socket(direct=False)
        starting = asyncio.create_task(hub.join_room(_connection(first, room), ROOM, since_seq))
        await room.reading.wait()
        joining = asyncio.create_task(hub.join_room(_connection(second, room), ROOM, since_seq))
        room.last = 3
        room.go.set()
        await starting
        await joining
        await eventually(lambda: "subscribed" in first.types() and "subscribed" in second.types())
        room.last = 4
        await channels.to_room(ROOM, message_event(4))
        await eventually(lambda: second.seqs()[-1:] == [4] == first.seqs()[-1:])
        replayed = [] if since_seq is None else [1, 2, 3]
        for socket in (first, second):
            assert socket.seqs() == [*replayed, 4]
            assert {"type": "subscribed", "room_id": str(ROOM), "last_seq": 3} in socket.frames


async def test_subscribing_again_restarts_the_subscription_from_its_since_seq() -> None:
    """The socket's earlier subscription ends (nothing more reaches it), the new one replays
    from its ``since_seq``, and the hub keeps listening to the room throughout."""
    room = StoredRoom(last=3)
    broker = RecordingBroker()
    async with listening_hub(room, broker) as (hub, channels):
        socket, connection = _member_socket(room, uuid.uuid4())
        first = await hub.join_room(connection, ROOM, None)
        await eventually(lambda: socket.types() == ["subscribed"])
        second = await hub.join_room(connection, ROOM, 1)
        await eventually(lambda: socket.types()[-1:] == ["subscribed"] and len(socket.frames) >= 4)
        room.last = 4
        await channels.to_room(ROOM, message_event(4))
        await eventually(lambda: socket.seqs()[-1:] == [4])
        assert socket.seqs() == [2, 3, 4]
        assert first.state is SubscriptionState.ENDED
        assert second.state is SubscriptionState.LIVE
        assert broker.unsubscribed == []
