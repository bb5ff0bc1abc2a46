"""One socket's connection: what its subscriptions hand its outbox, in which order, and when
they stop (``realtime/subscription.py``, ``realtime/outbox.py``).

The room's stored messages come from ``StoredRoom``, a stand-in for ``History`` kept in a
list, so that each test says exactly what the database holds (``tests/support/sockets.py``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from parley.db.outage import DatabaseUnavailable
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER, Connection
from parley.realtime.envelope import Outbound
from parley.realtime.room_event import RoomEvent
from parley.realtime.subscription import Subscription
from tests.support.sockets import Socket, StoredRoom, message_event

ROOM = uuid.UUID(int=1)
USER = uuid.UUID(int=2)


@pytest.fixture(params=["asgi send", "write now"])
def socket(request: pytest.FixtureRequest) -> Socket:
    """Every test runs both ways: frames through ASGI's send alone, and written at once."""
    return Socket(direct=request.param == "write now")


def _connection(socket: Socket, room: StoredRoom, *, max_queue: int = 100) -> Connection:
    write_now = socket.write_now if socket.direct else None
    return Connection(
        uuid.uuid4(), socket.send, USER, room, max_queue=max_queue, write_now=write_now
    )


async def _settle() -> None:
    """Let the writer write everything it can."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_fresh_subscription_starts_at_the_newest_and_then_goes_live(socket: Socket) -> None:
    room = StoredRoom(last=3)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 5
    subscription.deliver(RoomEvent(ROOM, message_event(4)))
    subscription.deliver(RoomEvent(ROOM, message_event(5)))
    await _settle()
    assert socket.types() == ["subscribed", "message", "message"]
    assert socket.frames[0]["last_seq"] == 3
    assert socket.seqs() == [4, 5]


async def test_a_resumed_subscription_replays_what_was_missed_once_each(socket: Socket) -> None:
    room = StoredRoom(last=5)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=1)
    # Live copies of stored messages, held before the catch-up has run: not written twice.
    subscription.deliver(RoomEvent(ROOM, message_event(3)))
    subscription.deliver(RoomEvent(ROOM, message_event(5)))
    await _settle()
    assert socket.seqs() == [2, 3, 4, 5]
    assert socket.types()[-1] == "subscribed"
    assert socket.frames[-1]["last_seq"] == 5


async def test_duplicates_are_skipped(socket: Socket) -> None:
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 4
    for seq in (3, 3, 2, 4, 4):
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    await _settle()
    assert socket.seqs() == [3, 4]
    assert not connection.closed


async def test_a_gap_at_a_subscription_closes_the_socket_to_resume_and_writes_nothing_past_it(
    socket: Socket,
) -> None:
    """The room's feed hands a subscription every event in order, so a gap here is a fault
    elsewhere: the client resumes from the last seq it got (1013), nothing is written past
    the gap, and nothing is mended at the socket (one way to recover, the client's)."""
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 6  # 3, 4 and 5 were stored, but their events never reached the socket
    for seq in (6, 7):
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    await _settle()
    assert socket.seqs() == []
    assert connection.close_code == CLOSE_TRY_AGAIN_LATER
    assert not connection.is_subscribed(ROOM)


async def test_events_without_a_seq_follow_the_catch_up(socket: Socket) -> None:
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    typing = Outbound(frame=json.dumps({"type": "typing"}))
    subscription = connection.subscribe(ROOM, since_seq=0)
    subscription.deliver(RoomEvent(ROOM, typing))
    await _settle()
    assert socket.types() == ["message", "message", "subscribed", "typing"]


async def test_an_unsubscribed_room_gets_nothing_more(socket: Socket) -> None:
    room = StoredRoom(last=1)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    connection.unsubscribe(ROOM)
    room.last = 2
    subscription.deliver(RoomEvent(ROOM, message_event(2)))
    await _settle()
    assert socket.seqs() == []
    assert not connection.is_subscribed(ROOM)


class UnreachableRoom(StoredRoom):
    """A room whose messages cannot be read: the database is away (``db/outage.py``), or no
    pooled connection came free in time."""

    def __init__(self, last: int, error: Exception) -> None:
        super().__init__(last)
        self.error = error

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [DatabaseUnavailable("connection lost"), PoolTimeoutError("no connection came free")],
    ids=["unavailable", "pool-timeout"],
)
async def test_a_catch_up_the_database_cannot_serve_closes_1013_to_resume_later(
    socket: Socket, error: Exception
) -> None:
    connection = _connection(socket, UnreachableRoom(last=5, error=error))
    connection.subscribe(ROOM, since_seq=1)
    await _settle()
    assert connection.close_code == CLOSE_TRY_AGAIN_LATER
    assert socket.frames == []


async def test_a_client_too_slow_to_read_is_closed_with_1013_not_buffered(socket: Socket) -> None:
    room = StoredRoom(last=0)
    connection = _connection(socket, room, max_queue=3)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    socket.open.clear()  # the client stops reading
    for seq in range(1, 10):
        room.last = seq
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    assert connection.closed
    assert connection.close_code == CLOSE_TRY_AGAIN_LATER
    socket.open.set()
    await _settle()
    assert len(socket.seqs()) <= 1  # the frame in flight at most; its writer was cancelled


async def test_an_idle_writer_ends_after_a_whole_sweep_and_a_new_frame_starts_another() -> None:
    socket, room = Socket(direct=False), StoredRoom(last=0)
    connection = _connection(socket, room)
    before = len(asyncio.all_tasks())
    connection.send('{"type": "pong"}')
    await _settle()
    assert len(asyncio.all_tasks()) == before + 1  # the writer, parked
    connection.end_idle_writer()  # parked at this sweep: kept
    await _settle()
    assert len(asyncio.all_tasks()) == before + 1
    connection.end_idle_writer()  # still parked a whole interval later: ended
    await _settle()
    assert len(asyncio.all_tasks()) == before
    connection.send('{"type": "pong"}')
    await _settle()
    assert socket.types() == ["pong", "pong"]
    assert not connection.closed


async def test_close_is_decided_once_and_stops_writing(socket: Socket) -> None:
    room = StoredRoom(last=0)
    closed: list[bool] = []
    connection = Connection(
        uuid.uuid4(), socket.send, USER, room, max_queue=10, on_close=lambda: closed.append(True)
    )
    connection.close(4001, "access token expired")
    connection.close(None)
    connection.send('{"type": "pong"}')
    await _settle()
    assert (connection.close_code, connection.close_reason) == (4001, "access token expired")
    assert closed == [True]
    assert socket.frames == []


async def test_a_socket_with_nothing_queued_is_written_at_once_without_a_writer() -> None:
    socket, room = Socket(direct=True), StoredRoom(last=0)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)  # the catch-up reads: a writer
    await _settle()
    for _ in range(2):  # the writer parks, then the sweeps end it
        connection.end_idle_writer()
    await _settle()
    tasks = len(asyncio.all_tasks())
    for seq in (1, 2):
        room.last = seq
        # True: a message written at once, which the caller (the hub) counts as delivered.
        assert subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    assert not subscription.deliver(RoomEvent(ROOM, Outbound(frame='{"type": "typing"}')))
    assert not subscription.deliver(RoomEvent(ROOM, message_event(2)))  # a duplicate: dropped
    connection.send('{"type": "pong"}')
    assert socket.seqs() == [1, 2]  # written before any task could run
    assert socket.types()[-2:] == ["typing", "pong"]
    assert socket.written_now == 5  # "subscribed" too
    assert len(asyncio.all_tasks()) == tasks


async def test_a_frame_the_socket_cannot_take_now_goes_through_send_and_keeps_its_place() -> None:
    socket, room = Socket(direct=True), StoredRoom(last=0)
    counted: list[float | None] = []  # by the writer, which counts what it writes
    connection = Connection(
        uuid.uuid4(),
        socket.send,
        USER,
        room,
        max_queue=100,
        on_delivered=counted.append,
        write_now=socket.write_now,
    )
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    socket.open.clear()  # the transport is full: write_now refuses, send waits
    for seq in (1, 2):
        room.last = seq
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    connection.send('{"type": "pong"}')
    await _settle()
    assert socket.seqs() == []
    socket.open.set()
    room.last = 3
    subscription.deliver(RoomEvent(ROOM, message_event(3)))  # behind the others, not ahead
    await _settle()
    assert socket.types() == ["subscribed", "message", "message", "pong", "message"]
    assert socket.seqs() == [1, 2, 3]
    assert len(counted) == 3
    written_now = socket.written_now
    room.last = 4
    # The writer is parked again: at once, and counted by the caller.
    assert subscription.deliver(RoomEvent(ROOM, message_event(4)))
    assert len(counted) == 3
    assert socket.seqs() == [1, 2, 3, 4]
    assert socket.written_now == written_now + 1


class RoomLeftAt(StoredRoom):
    """Messages 1 to ``last``; message ``left`` says that USER left the room. A read of the
    membership finds USER a member with the room at ``read_at``: by default just before they
    left; at or after ``left``, once they had rejoined. ``reading`` holds such reads back
    until it is set."""

    def __init__(self, last: int, left: int, read_at: int | None = None) -> None:
        super().__init__(last)
        self.left = left
        self.read_at = left - 1 if read_at is None else read_at
        self.reading = asyncio.Event()
        self.reading.set()

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        page = await super().after(room_id, after_seq, limit)
        return [
            replace(event, departing_user=USER) if event.seq == self.left else event
            for event in page
        ]

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        await self.reading.wait()
        return None if user_id in self.former_members else self.read_at

    def left_event(self) -> RoomEvent:
        return RoomEvent(ROOM, replace(message_event(self.left), departing_user=USER))


LEFT = {"type": "unsubscribed", "room_id": str(ROOM), "reason": "left"}


async def test_a_user_who_leaves_during_a_catch_up_gets_nothing_past_their_departure(
    socket: Socket,
) -> None:
    room = RoomLeftAt(last=10, left=5)  # 6 to 10 came after
    connection = _connection(socket, room)
    socket.open.clear()  # the catch-up is on its way when they leave
    subscription = connection.subscribe(ROOM, since_seq=0)
    await _settle()
    subscription.deliver(room.left_event())
    assert not connection.is_subscribed(ROOM)  # not live: typing there needs membership
    socket.open.set()
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    assert socket.frames[-1] == LEFT
    assert socket.types().count("unsubscribed") == 1


async def test_a_catch_up_stops_at_the_message_that_says_its_user_left(socket: Socket) -> None:
    """The live "left" event is late (lost on the broker, or never sent: the room's feed
    started after it): the catch-up reads it first, writes nothing after it, and ends the
    subscription there."""
    left: list[Subscription] = []
    connection = _connection(socket, RoomLeftAt(last=10, left=5))
    subscription = connection.subscribe(ROOM, since_seq=0, on_left=left.append)
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    assert socket.frames[-1] == LEFT
    assert not connection.is_subscribed(ROOM)
    assert left == [subscription]  # the hub lets go of the socket there
    subscription.deliver(RoomEvent(ROOM, message_event(11)))
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("since_seq", [None, 0], ids=["fresh", "resumed"])
async def test_a_catch_up_that_finds_its_user_no_member_writes_nothing_of_the_room(
    socket: Socket, since_seq: int | None
) -> None:
    """They left between the subscribe frame's check and the subscription becoming live:
    the catch-up's own read of the membership refuses it, replay and live events alike."""
    room = StoredRoom(last=4)
    room.former_members.add(USER)
    left: list[Subscription] = []
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq, on_left=left.append)
    assert not connection.is_subscribed(ROOM)  # not before its catch-up says so
    subscription.deliver(RoomEvent(ROOM, message_event(5)))  # live, held meanwhile
    subscription.deliver(RoomEvent(ROOM, Outbound(frame='{"type": "typing"}')))
    await _settle()
    assert socket.frames == [LEFT]
    assert not connection.is_subscribed(ROOM)
    assert left == [subscription]
    subscription.deliver(RoomEvent(ROOM, message_event(6)))
    await _settle()
    assert socket.frames == [LEFT]


async def test_a_subscription_counts_as_subscribed_once_its_catch_up_found_a_member(
    socket: Socket,
) -> None:
    room = RoomLeftAt(last=3, left=10, read_at=3)
    room.reading.clear()
    connection = _connection(socket, room)
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    assert not connection.is_subscribed(ROOM)  # typing there reads the membership itself
    room.reading.set()
    await _settle()
    assert connection.is_subscribed(ROOM)
    assert socket.frames == [{"type": "subscribed", "room_id": str(ROOM), "last_seq": 3}]


@pytest.mark.parametrize(
    ("read_at", "still_subscribed"),
    [(4, False), (7, True)],
    ids=["left after the read", "rejoined before the read"],
)
async def test_a_departure_before_the_catch_up_has_read_is_judged_by_that_read(
    socket: Socket, read_at: int, still_subscribed: bool
) -> None:
    """The hub hands the "left" message over while the catch-up's read is on its way: the
    read, once back, says whether it ended this membership or one before (they rejoined)."""
    room = RoomLeftAt(last=read_at, left=5, read_at=read_at)
    room.reading.clear()
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    subscription.deliver(room.left_event())
    room.reading.set()
    await _settle()
    assert socket.frames[0] == {"type": "subscribed", "room_id": str(ROOM), "last_seq": read_at}
    assert connection.is_subscribed(ROOM) is still_subscribed
    room.last = read_at + 1
    subscription.deliver(RoomEvent(ROOM, message_event(read_at + 1)))
    await _settle()
    if still_subscribed:
        assert socket.seqs() == [8]
    else:
        assert socket.seqs() == [5]
        assert socket.frames[-1] == LEFT


async def test_a_departure_from_before_its_user_rejoined_ends_nothing(socket: Socket) -> None:
    """They left with message 5 and rejoined: a replay passes their old departure, and a
    late copy of it from the hub ends nothing."""
    room = RoomLeftAt(last=7, left=5, read_at=7)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=0)
    await _settle()
    subscription.deliver(room.left_event())
    room.last = 8
    subscription.deliver(RoomEvent(ROOM, message_event(8)))
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert connection.is_subscribed(ROOM)
    assert "unsubscribed" not in socket.types()


async def test_a_departure_a_resumed_client_claims_to_have_seen_still_ends_it(
    socket: Socket,
) -> None:
    """A ``since_seq`` beyond where the room stood (a client's mistake) passes the user's
    "left" message as already seen: the subscription still ends there, and nothing of the
    room comes after it."""
    room = RoomLeftAt(last=4, left=6, read_at=4)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=8)
    await _settle()
    room.last = 6
    subscription.deliver(RoomEvent(ROOM, message_event(5)))
    subscription.deliver(room.left_event())
    room.last = 9
    for seq in (7, 8, 9):
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    await _settle()
    assert socket.frames == [{"type": "subscribed", "room_id": str(ROOM), "last_seq": 8}, LEFT]
    assert not connection.is_subscribed(ROOM)


async def test_what_was_handed_over_before_an_unsubscribe_comes_before_its_answer(
    socket: Socket,
) -> None:
    """A subscription decides once, as it hands an event to the outbox: a client reading
    slowly still gets what was on its way when it unsubscribed, then the answer, then nothing
    of the room."""
    room = StoredRoom(last=0)
    connection = _connection(socket, room)
    subscription = connection.subscribe(ROOM, since_seq=None)
    await _settle()
    socket.open.clear()
    for seq in (1, 2):
        room.last = seq
        subscription.deliver(RoomEvent(ROOM, message_event(seq)))
    connection.unsubscribe(ROOM)
    connection.send(json.dumps({"type": "unsubscribed", "room_id": str(ROOM)}))
    room.last = 3
    subscription.deliver(RoomEvent(ROOM, message_event(3)))
    socket.open.set()
    await _settle()
    assert socket.types() == ["subscribed", "message", "message", "unsubscribed"]
    assert socket.seqs() == [1, 2]
