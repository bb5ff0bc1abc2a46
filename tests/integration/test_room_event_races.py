"""What a room event carries is what the commit leaves, whatever commits in between: a member
joining while the room is renamed learns the name that stands, whichever commits first, and a
rename behind a send tells the room's true ``last_seq`` (PostgreSQL, where they really wait on
the room's row lock)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.db.engine import SessionFactory, create_engine, create_session_factory
from parley.db.message_record import sender_of
from parley.db.models import User
from parley.db.unit_of_work import UnitOfWork
from parley.observability.metrics import Metrics
from parley.realtime.broker import Delivery
from parley.realtime.channels import ChannelPublisher
from parley.realtime.envelope import decode_envelope
from parley.realtime.memory_broker import MemoryBroker, MemoryBus
from parley.realtime.publisher import EventPublisher
from parley.services.message_factory import MessageFactory
from parley.services.messages import MessageService
from parley.services.rooms import RoomService
from tests.support.factories import Json
from tests.support.waiting import eventually


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=4)
    try:
        yield engine
    finally:
        await engine.dispose()


class _Rooms:
    """Room services on one database, publishing on an in-process bus; ``heard`` reads what a
    user's channel carried."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.session_factory: SessionFactory = create_session_factory(engine)
        self._bus = MemoryBus()
        self._namespace = f"t{uuid.uuid4().hex[:8]}"
        channels = ChannelPublisher(MemoryBroker(self._bus), namespace=self._namespace)
        self.events = EventPublisher(channels, Metrics())
        self._listener = MemoryBroker(self._bus)
        self._heard = self._listener.events()

    def service(self, uow: UnitOfWork) -> RoomService:
        return RoomService(uow, self.events)

    async def user(self, name: str) -> uuid.UUID:
        async with UnitOfWork(self.session_factory) as uow:
            user = User(
                username=f"{name}{uuid.uuid4().hex[:8]}", display_name=name, password_hash="-"
            )
            uow.session.add(user)
            await uow.session.flush()
            return user.id

    async def listen_to(self, user_id: uuid.UUID) -> None:
        await self._listener.subscribe(f"{self._namespace}:user:{user_id}")

    async def heard(self) -> Json:
        async with asyncio.timeout(10):
            event = await anext(self._heard)
        assert isinstance(event, Delivery)
        frame: Json = json.loads(decode_envelope(event.data).frame)
        return frame

    async def until_someone_waits_for_a_lock(self) -> None:
        await eventually(self._waiting_for_a_lock, what="a transaction waiting for a lock")

    async def _waiting_for_a_lock(self) -> bool:
        # A transaction of its own each time: pg_stat_activity stands still within one.
        async with self.engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        return bool(waiting)


async def _public_room(rooms: _Rooms, owner_id: uuid.UUID) -> uuid.UUID:
    async with UnitOfWork(rooms.session_factory) as uow:
        owner = await uow.session.get(User, owner_id)
        assert owner is not None
        room = await rooms.service(uow).create(owner, "before", is_private=False)
        return room.id


async def _join(rooms: _Rooms, user_id: uuid.UUID, room_id: uuid.UUID) -> None:
    async with UnitOfWork(rooms.session_factory) as uow:
        user = await uow.session.get(User, user_id)
        assert user is not None
        await rooms.service(uow).join(user, room_id)


async def _rename(rooms: _Rooms, user_id: uuid.UUID, room_id: uuid.UUID) -> None:
    async with UnitOfWork(rooms.session_factory) as uow:
        user = await uow.session.get(User, user_id)
        assert user is not None
        await rooms.service(uow).rename(user, room_id, "after")


async def test_a_member_who_joins_while_the_room_is_renamed_is_told_the_new_name(
    engine: AsyncEngine,
) -> None:
    rooms = _Rooms(engine)
    alice, bob = await rooms.user("alice"), await rooms.user("bob")
    room_id = await _public_room(rooms, alice)
    await rooms.listen_to(bob)

    async with UnitOfWork(rooms.session_factory) as uow:  # the rename, not yet committed
        owner = await uow.session.get(User, alice)
        assert owner is not None
        await rooms.service(uow).rename(owner, room_id, "after")
        # Bob's join reads the room ("before") and waits for its row behind the rename.
        joining = asyncio.create_task(_join(rooms, bob, room_id))
        await rooms.until_someone_waits_for_a_lock()
    await joining

    added = await rooms.heard()
    assert (added["type"], added["room"]["name"], added["room"]["last_seq"]) == (
        "room.added",
        "after",
        2,  # "renamed", then "joined"
    )


async def test_a_rename_after_a_join_it_waited_for_updates_the_newcomer(
    engine: AsyncEngine,
) -> None:
    rooms = _Rooms(engine)
    alice, bob = await rooms.user("alice"), await rooms.user("bob")
    room_id = await _public_room(rooms, alice)
    await rooms.listen_to(bob)

    async with UnitOfWork(rooms.session_factory) as uow:  # the join, not yet committed
        user = await uow.session.get(User, bob)
        assert user is not None
        await rooms.service(uow).join(user, room_id)
        # The rename waits for the room's row behind the join.
        renaming = asyncio.create_task(_rename(rooms, alice, room_id))
        await rooms.until_someone_waits_for_a_lock()
    await renaming

    added, updated = await rooms.heard(), await rooms.heard()
    assert (added["type"], added["room"]["name"]) == ("room.added", "before")
    assert (updated["type"], updated["room"]["name"]) == ("room.updated", "after")


async def test_a_rename_behind_a_send_tells_the_rooms_last_seq(engine: AsyncEngine) -> None:
    rooms = _Rooms(engine)
    alice = await rooms.user("alice")
    room_id = await _public_room(rooms, alice)
    await rooms.listen_to(alice)

    async with UnitOfWork(rooms.session_factory) as uow:  # a send, not yet committed
        sender = await uow.session.get(User, alice)
        assert sender is not None
        await MessageService(uow, rooms.events).append(
            room_id, MessageFactory.text(sender_of(sender), "hi", None)
        )
        # The rename reads the room (last_seq 0) and waits for its row behind the send.
        renaming = asyncio.create_task(_rename(rooms, alice, room_id))
        await rooms.until_someone_waits_for_a_lock()
    await renaming

    updated = await rooms.heard()
    assert (updated["type"], updated["room"]["last_seq"]) == ("room.updated", 2)


async def _leave(rooms: _Rooms, user_id: uuid.UUID, room_id: uuid.UUID) -> None:
    async with UnitOfWork(rooms.session_factory) as uow:
        user = await uow.session.get(User, user_id)
        assert user is not None
        await rooms.service(uow).leave(user, room_id)


async def test_an_owner_and_their_heir_leaving_together_leave_a_member_in_charge(
    engine: AsyncEngine,
) -> None:
    rooms = _Rooms(engine)
    alice, bob, carol = await rooms.user("alice"), await rooms.user("bob"), await rooms.user("c")
    room_id = await _public_room(rooms, alice)
    await _join(rooms, bob, room_id)  # the longest-standing member after alice
    await _join(rooms, carol, room_id)

    async with UnitOfWork(rooms.session_factory) as uow:  # alice leaves, not yet committed
        owner = await uow.session.get(User, alice)
        assert owner is not None
        await rooms.service(uow).leave(owner, room_id)  # passes the room to bob
        # Bob leaves at the same moment: he read alice as the owner, then waits for the row.
        leaving = asyncio.create_task(_leave(rooms, bob, room_id))
        await rooms.until_someone_waits_for_a_lock()
    await leaving

    async with engine.connect() as connection:
        owner_id = await connection.scalar(
            text("SELECT owner_id FROM rooms WHERE id = :id"), {"id": room_id}
        )
    assert owner_id == carol  # not bob, who left: the room stays in a member's hands
