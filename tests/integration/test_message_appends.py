"""Sends stored in batches (PostgreSQL): each room's seqs without gaps in arrival order,
membership and idempotency per message, and a batch that fails whole retried one by one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.db.base import utcnow
from parley.db.engine import create_engine
from parley.repositories.message_appends import MessageAppends, NewRow
from tests.support.waiting import eventually


@dataclass(frozen=True, slots=True)
class Room:
    id: uuid.UUID
    members: list[uuid.UUID]
    stranger: uuid.UUID


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def new_appends(engine: AsyncEngine) -> AsyncIterator[Callable[[], MessageAppends]]:
    """Makes the test's ``MessageAppends`` (one per process it plays), closed after it."""
    made: list[MessageAppends] = []

    def new() -> MessageAppends:
        made.append(MessageAppends(engine))
        return made[-1]

    yield new
    for appends in made:
        await appends.close()


@pytest.fixture
async def room(engine: AsyncEngine) -> Room:
    return (await _rooms(engine, 1))[0]


async def _rooms(engine: AsyncEngine, count: int) -> list[Room]:
    """``count`` rooms with the same three members, and a user who is in none."""
    users = [uuid.uuid4() for _ in range(4)]
    rooms = [uuid.uuid4() for _ in range(count)]
    async with engine.begin() as connection:
        for user_id in users:
            await connection.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, created_at) "
                    "VALUES (:id, :name, :name, 'x', now())"
                ),
                {"id": user_id, "name": f"u{user_id.hex[:12]}"},
            )
        for room_id in rooms:
            await connection.execute(
                text(
                    "INSERT INTO rooms (id, name, kind, is_private, owner_id, last_seq, "
                    "created_at) VALUES (:id, 'busy', 'group', false, :owner, 0, now())"
                ),
                {"id": room_id, "owner": users[0]},
            )
            for user_id in users[:3]:
                await connection.execute(
                    text(
                        "INSERT INTO memberships (room_id, user_id, joined_at) "
                        "VALUES (:r, :u, now())"
                    ),
                    {"r": room_id, "u": user_id},
                )
    return [Room(room_id, users[:3], users[3]) for room_id in rooms]


def _row(room: Room, sender: uuid.UUID, client_id: str | None, body: str = "hello") -> NewRow:
    return NewRow(room.id, uuid.uuid4(), sender, "text", body, client_id, utcnow())


async def _one_running_and_queued(
    appends: MessageAppends, room: Room, queued: int
) -> tuple[asyncio.Task[int | None], list[asyncio.Task[int | None]]]:
    """A send running alone, and ``queued`` more waiting for the statement after it."""
    member = room.members[0]
    # Checked at every turn of the loop: the first send's statement takes a millisecond.
    first = asyncio.create_task(appends.append(_row(room, member, "first")))
    await eventually(lambda: appends.queued is not None, every=0, what="the first send running")
    waiting = [
        asyncio.create_task(appends.append(_row(room, member, f"q{n}"))) for n in range(queued)
    ]
    await eventually(lambda: appends.queued == queued, every=0, what="all queued")
    assert not first.done()
    return first, waiting


async def _stored(engine: AsyncEngine, room_id: uuid.UUID) -> list[tuple[int, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT seq, body FROM messages WHERE room_id = :r ORDER BY seq"), {"r": room_id}
        )
        return [(row.seq, row.body) for row in rows]


async def test_concurrent_sends_into_one_room_share_statements_and_keep_arrival_order(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    appends = new_appends()
    rows = [_row(room, room.members[n % 3], f"c{n}", body=f"m{n}") for n in range(300)]
    seqs = await asyncio.gather(*(appends.append(row) for row in rows))
    # Gathered in order, so they queued in order: seqs follow arrival, with no gap.
    assert seqs == list(range(1, 301))
    assert await _stored(engine, room.id) == [(n + 1, f"m{n}") for n in range(300)]


async def test_two_processes_sending_into_many_rooms_leave_no_gap_anywhere(
    engine: AsyncEngine, new_appends: Callable[[], MessageAppends]
) -> None:
    """Batches of both processes lock the same rooms (in id order, so never in a cycle)."""
    rooms = await _rooms(engine, 7)
    processes = [new_appends(), new_appends()]
    rows = [
        (processes[n % 2], _row(room, room.members[n % 3], f"c{n}", body=f"m{n}"))
        for n in range(400)
        for room in [rooms[(n * 3) % 7]]
    ]
    seqs = await asyncio.gather(*(process.append(row) for process, row in rows))
    assert None not in seqs
    total = 0
    for room in rooms:
        stored = await _stored(engine, room.id)
        assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
        total += len(stored)
    assert total == 400


async def test_each_message_of_a_batch_is_checked_on_its_own(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    appends = new_appends()
    member = room.members[0]
    assert await appends.append(_row(room, member, "used")) == 1
    rows = [
        _row(room, member, "a"),
        _row(room, room.stranger, "b"),  # not a member: nothing stored
        _row(room, member, "used"),  # a client_id already used: nothing stored
        _row(room, member, None),
        _row(
            room, room.members[1], "a"
        ),  # the same client_id from another sender is another message
    ]
    seqs = await asyncio.gather(*(appends.append(row) for row in rows))
    assert seqs == [2, None, None, 3, 4]
    assert [seq for seq, _ in await _stored(engine, room.id)] == [1, 2, 3, 4]


async def test_one_client_id_twice_in_a_batch_is_stored_once(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    """The batch fails whole on the unique index and is retried one by one: the first is
    stored, the repeat stores nothing (its sender then answers with the first)."""
    appends = new_appends()
    member = room.members[0]
    rows = [
        _row(room, member, "warm-up"),
        _row(room, member, "twice"),
        _row(room, member, "other"),
        _row(room, member, "twice"),
    ]
    outcomes = await asyncio.gather(*(appends.append(row) for row in rows))
    assert outcomes == [1, 2, 3, None]
    assert [seq for seq, _ in await _stored(engine, room.id)] == [1, 2, 3]


async def test_a_sender_who_stops_waiting_does_not_strand_the_others(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    appends = new_appends()
    first, queued = await _one_running_and_queued(appends, room, 5)
    queued[2].cancel()  # its socket closed while it waited
    assert await first == 1
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    stored = [result for result in results if isinstance(result, int)]
    assert sorted(stored) == [2, 3, 4, 5]
    assert [seq for seq, _ in await _stored(engine, room.id)] == [1, 2, 3, 4, 5]


async def test_a_message_that_fails_the_batch_fails_alone(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    """A value PostgreSQL refuses (here a NUL in the text, which the API refuses earlier)
    fails the batch's statement; the batch is stored again one by one, and only that
    sender gets the error."""
    appends = new_appends()
    member = room.members[0]
    rows = [_row(room, member, f"c{n}", body="bad\x00" if n == 2 else f"m{n}") for n in range(5)]
    outcomes = await asyncio.gather(*(appends.append(row) for row in rows), return_exceptions=True)
    assert isinstance(outcomes[2], DBAPIError)
    assert [outcome for n, outcome in enumerate(outcomes) if n != 2] == [1, 2, 3, 4]
    assert [body for _, body in await _stored(engine, room.id)] == ["m0", "m1", "m3", "m4"]


async def test_a_cancelled_drain_strands_no_sender_and_the_next_send_runs(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    appends = new_appends()
    first, queued = await _one_running_and_queued(appends, room, 3)
    assert await first == 1
    for drain in list(appends._drains):  # what a shutdown does to it
        drain.cancel()
    results = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 10)
    # Whether the drain stored its batch before it was cancelled is a race: either is fine.
    assert all(isinstance(r, (int, asyncio.CancelledError)) for r in results)
    after = await appends.append(_row(room, room.members[0], "after", body="after"))
    stored = await _stored(engine, room.id)
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert stored[-1] == (after, "after")


async def test_senders_with_one_message_in_flight_each_all_get_their_answers(
    engine: AsyncEngine, room: Room, new_appends: Callable[[], MessageAppends]
) -> None:
    """Sockets send, wait for the ack, send again: sends keep arriving just as a batch ends."""
    appends = new_appends()

    async def sender(n: int) -> list[int | None]:
        member = room.members[n % 3]
        return [await appends.append(_row(room, member, f"s{n}-{k}")) for k in range(20)]

    answers = await asyncio.wait_for(asyncio.gather(*(sender(n) for n in range(20))), 60)
    assert sorted(seq for each in answers for seq in each if seq is not None) == list(range(1, 401))
