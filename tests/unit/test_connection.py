"""One socket's connection: what its writer sends, in which order, and when it stops.

The room's stored messages come from ``StoredRoom``, a stand-in for ``History`` kept in a
list, so that each test says exactly what the database holds (``tests/support/sockets.py``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace

import pytest
from sqlalchemy.exc import DBAPIError

from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER, Connection, RoomEvent
from parley.realtime.envelope import Outbound
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
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 5
    connection.deliver(RoomEvent(ROOM, message_event(4)))
    connection.deliver(RoomEvent(ROOM, message_event(5)))
    await _settle()
    assert socket.types() == ["subscribed", "message", "message"]
    assert socket.frames[0]["last_seq"] == 3
    assert socket.seqs() == [4, 5]


async def test_a_resumed_subscription_replays_what_was_missed_once_each(socket: Socket) -> None:
    room = StoredRoom(last=5)
    connection = _connection(socket, room)
    connection.subscribe(ROOM, since_seq=1)
    # Live copies of stored messages, queued before the catch-up has run: not written twice.
    connection.deliver(RoomEvent(ROOM, message_event(3)))
    connection.deliver(RoomEvent(ROOM, message_event(5)))
    await _settle()
    assert socket.seqs() == [2, 3, 4, 5]
    assert socket.types()[-1] == "subscribed"
    assert socket.frames[-1]["last_seq"] == 5


async def test_duplicates_are_skipped_and_a_gap_is_filled_from_the_database(socket: Socket) -> None:
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 6  # 3, 4 and 5 were stored, but their events never came
    for seq in (6, 6, 2):
        connection.deliver(RoomEvent(ROOM, message_event(seq)))
    await _settle()
    assert socket.seqs() == [3, 4, 5, 6]


async def test_fill_to_writes_what_was_committed_before_the_feed_started(socket: Socket) -> None:
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    room.last = 4  # committed while the room's feed was starting: no event will come
    connection.fill_to(ROOM, 4)
    await _settle()
    assert socket.seqs() == [3, 4]
    room.last = 5
    for seq in (4, 5):  # a late copy, then the first live event
        connection.deliver(RoomEvent(ROOM, message_event(seq)))
    await _settle()
    assert socket.seqs() == [3, 4, 5]


async def test_events_without_a_seq_follow_the_catch_up(socket: Socket) -> None:
    room = StoredRoom(last=2)
    connection = _connection(socket, room)
    typing = Outbound(frame=json.dumps({"type": "typing"}))
    connection.subscribe(ROOM, since_seq=0)
    connection.deliver(RoomEvent(ROOM, typing))
    await _settle()
    assert socket.types() == ["message", "message", "subscribed", "typing"]


async def test_an_unsubscribed_room_gets_nothing_more(socket: Socket) -> None:
    room = StoredRoom(last=1)
    connection = _connection(socket, room)
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    connection.unsubscribe(ROOM)
    room.last = 2
    connection.deliver(RoomEvent(ROOM, message_event(2)))
    await _settle()
    assert socket.seqs() == []
    assert not connection.is_subscribed(ROOM)


class UnreachableRoom(StoredRoom):
    """A room whose messages cannot be read: the database is away, as SQLAlchemy reports a
    connection lost, or as asyncpg's refused connection comes through it, untranslated."""

    def __init__(self, last: int, error: Exception) -> None:
        super().__init__(last)
        self.error = error

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [DBAPIError("SELECT ...", {}, OSError("connection lost")), ConnectionRefusedError()],
    ids=["lost", "refused"],
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
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    socket.open.clear()  # the client stops reading
    for seq in range(1, 10):
        room.last = seq
        connection.deliver(RoomEvent(ROOM, message_event(seq)))
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
    connection.subscribe(ROOM, since_seq=None)  # the catch-up reads: a writer runs it
    await _settle()
    for _ in range(2):  # the writer parks, then the sweeps end it
        connection.end_idle_writer()
    await _settle()
    tasks = len(asyncio.all_tasks())
    for seq in (1, 2):
        room.last = seq
        # True: a message written at once, which the caller (the hub) counts as delivered.
        assert connection.deliver(RoomEvent(ROOM, message_event(seq)))
    assert not connection.deliver(RoomEvent(ROOM, Outbound(frame='{"type": "typing"}')))
    assert not connection.deliver(RoomEvent(ROOM, message_event(2)))  # a duplicate: dropped
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
    connection.subscribe(ROOM, since_seq=None)
    await _settle()
    socket.open.clear()  # the transport is full: write_now refuses, send waits
    for seq in (1, 2):
        room.last = seq
        connection.deliver(RoomEvent(ROOM, message_event(seq)))
    connection.send('{"type": "pong"}')
    await _settle()
    assert socket.seqs() == []
    socket.open.set()
    room.last = 3
    connection.deliver(RoomEvent(ROOM, message_event(3)))  # behind the others, not ahead of them
    await _settle()
    assert socket.types() == ["subscribed", "message", "message", "pong", "message"]
    assert socket.seqs() == [1, 2, 3]
    assert len(counted) == 3
    written_now = socket.written_now
    room.last = 4
    # The writer is parked again: at once, and counted by the caller.
    assert connection.deliver(RoomEvent(ROOM, message_event(4)))
    assert len(counted) == 3
    assert socket.seqs() == [1, 2, 3, 4]
    assert socket.written_now == written_now + 1


async def test_a_user_who_leaves_during_a_catch_up_gets_nothing_past_their_departure(
    socket: Socket,
) -> None:
    room = StoredRoom(last=10)  # 5 says they left; 6 to 10 came after
    connection = _connection(socket, room)
    socket.open.clear()  # the catch-up is on its way when they leave
    connection.subscribe(ROOM, since_seq=0)
    await _settle()
    connection.deliver(RoomEvent(ROOM, message_event(5)))
    connection.depart(ROOM, 5, json.dumps({"type": "unsubscribed", "reason": "left"}))
    socket.open.set()
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    assert socket.types()[-1] == "unsubscribed"
    assert not connection.is_subscribed(ROOM)


class RoomLeftAt(StoredRoom):
    """Messages 1 to ``last``; message ``left`` says that USER left the room."""

    def __init__(self, last: int, left: int) -> None:
        super().__init__(last)
        self.left = left

    async def after(self, room_id: uuid.UUID, after_seq: int, limit: int = 200) -> list[Outbound]:
        page = await super().after(room_id, after_seq, limit)
        return [
            replace(event, departing_user=USER) if event.seq == self.left else event
            for event in page
        ]


async def test_a_catch_up_stops_at_the_message_that_says_its_user_left(socket: Socket) -> None:
    """The live "left" event is late (lost on the broker, filled later): the catch-up reads
    it first, and writes nothing after it."""
    connection = _connection(socket, RoomLeftAt(last=10, left=5))
    connection.subscribe(ROOM, since_seq=0)
    await _settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    assert not connection.is_subscribed(ROOM)  # typing there needs membership again
