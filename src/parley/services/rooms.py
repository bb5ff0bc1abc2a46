"""Rooms and their members: creating, finding, joining, adding, leaving, direct messages.

Every change to who is in a room, or to what the room's list shows, tells the users concerned
once it has committed, through their user channels (``room.added``, ``room.removed``,
``room.updated``): a rolled-back change tells no one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from parley.core.errors import BadRequest, Forbidden, NotFound
from parley.db.models import Room, RoomKind, User
from parley.db.unit_of_work import UnitOfWork
from parley.realtime.presence import Presence
from parley.realtime.publisher import EventPublisher
from parley.repositories.rooms import RoomRepository
from parley.repositories.users import UserRepository
from parley.schemas.rooms import RoomOut
from parley.services.message_factory import MessageFactory
from parley.services.messages import MessageService

__all__ = ["DirectRoom", "RoomService"]


@dataclass(frozen=True, slots=True)
class DirectRoom:
    room: Room
    created: bool


class RoomService:
    def __init__(self, uow: UnitOfWork, events: EventPublisher) -> None:
        self._uow = uow
        self._events = events
        self._rooms = RoomRepository(uow.session)
        self._users = UserRepository(uow.session)
        self._messages = MessageService(uow, events)

    async def create(self, owner: User, name: str, *, is_private: bool) -> Room:
        room = await self._rooms.add(Room(name=name, is_private=is_private, owner_id=owner.id))
        await self._rooms.add_member(room.id, owner.id)
        self._tell_added(RoomOut.model_validate(room), owner.id)
        return room

    async def get(self, user: User, room_id: uuid.UUID) -> Room:
        room = await self._rooms.visible_to(room_id, user.id)
        if room is None:
            raise NotFound("No such room.")
        return room

    async def members(self, room: Room) -> Sequence[User]:
        return await self._rooms.members(room.id)

    async def mine(self, user: User) -> Sequence[Room]:
        return await self._rooms.of_member(user.id)

    async def public(self) -> Sequence[Room]:
        return await self._rooms.public()

    async def join(self, user: User, room_id: uuid.UUID) -> Room:
        room = await self._rooms.get(room_id)
        if room is None or room.is_private:
            raise NotFound("No such room.")
        if await self._rooms.add_member(room.id, user.id):
            await self._messages.append(room.id, MessageFactory.joined(user))
            self._tell_added(await self._as_it_stands(room), user.id)
        return room

    async def add_member(self, actor: User, room_id: uuid.UUID, username: str) -> None:
        room = await self.get(actor, room_id)
        if room.kind is RoomKind.DIRECT:
            raise Forbidden("A direct-message room has exactly its two people.")
        if room.is_private and room.owner_id != actor.id:
            raise Forbidden("Only the owner adds members to a private room.")
        user = await self._users.by_username(username.lower())
        if user is None:
            raise NotFound("No such user.")
        if await self._rooms.add_member(room.id, user.id):
            await self._messages.append(room.id, MessageFactory.joined(user))
            self._tell_added(await self._as_it_stands(room), user.id)

    async def leave(self, user: User, room_id: uuid.UUID) -> None:
        room = await self.get(user, room_id)
        await self._rooms.remove_member(room.id, user.id)
        await self._messages.append(room.id, MessageFactory.left(user))
        self._uow.after_commit(partial(self._events.room_removed, user.id, room.id))
        # Read again under the room's row lock (the append took it): the owner read before
        # may be out of date. If the owner left at this very moment, they may have passed the
        # room to this user, who must pass it on in turn.
        await self._uow.session.refresh(room)
        if room.owner_id == user.id:
            # Ownership passes to the longest-standing member (none: the room is ownerless).
            await self._rooms.set_owner(room.id, await self._rooms.longest_member(room.id))
            await self._tell_members(room)

    async def online_members(
        self, user: User, room_id: uuid.UUID, presence: Presence
    ) -> list[User]:
        room = await self.get(user, room_id)
        members = await self._rooms.members(room.id)
        online = await presence.online(member.id for member in members)
        return [member for member in members if member.id in online]

    async def rename(self, user: User, room_id: uuid.UUID, name: str) -> Room:
        room = await self.get(user, room_id)
        if room.owner_id != user.id:
            raise Forbidden("Only the owner renames a room.")
        if name != room.name:
            old_name, room.name = room.name, name
            await self._uow.session.flush()
            await self._messages.append(room.id, MessageFactory.renamed(user, old_name, name))
            await self._tell_members(room)
        return room

    async def direct(self, user: User, username: str) -> DirectRoom:
        other = await self._users.by_username(username.lower())
        if other is None:
            raise NotFound("No such user.")
        if other.id == user.id:
            raise BadRequest("A direct-message room needs two different people.")
        key = ":".join(sorted((user.id.hex, other.id.hex)))
        existing = await self._rooms.by_direct_key(key)
        if existing is not None:
            return DirectRoom(await self._reopen(existing, user, other), created=False)
        room = Room(
            name=f"{min(user.username, other.username)} & {max(user.username, other.username)}",
            kind=RoomKind.DIRECT,
            is_private=True,
            direct_key=key,
        )
        if not await self._rooms.add_direct(room):
            # Another request, perhaps on another instance, made the pair's room first.
            raced = await self._rooms.by_direct_key(key)
            assert raced is not None  # noqa: S101
            return DirectRoom(await self._reopen(raced, user, other), created=False)
        await self._rooms.add_member(room.id, user.id)
        await self._rooms.add_member(room.id, other.id)
        self._tell_added(RoomOut.model_validate(room), user.id, other.id)
        return DirectRoom(room, created=True)

    async def _reopen(self, room: Room, user: User, other: User) -> Room:
        """The pair's room has its two people again: one who left (either, or both) is back,
        with its history, and the room records it as a join. A direct room is the pair's
        only one, so a leave must not break it for good."""
        back: list[uuid.UUID] = []
        for person in (user, other):
            if await self._rooms.add_member(room.id, person.id):
                await self._messages.append(room.id, MessageFactory.joined(person))
                back.append(person.id)
        if back:
            self._tell_added(await self._as_it_stands(room), *back)
        return room

    # --- telling the users concerned, once committed --------------------------------------

    async def _as_it_stands(self, room: Room) -> RoomOut:
        """The room read again, once this transaction has recorded its change as a system
        message: taking that seq locked the room's row until commit, so what is read now is
        what the commit leaves. The copy read before the lock may be behind: a rename
        committed since (a newcomer must get the new name), messages sent since (the
        session brings ``last_seq`` up to date by adding one to the copy's)."""
        await self._uow.session.refresh(room)
        return RoomOut.model_validate(room)

    def _tell_added(self, listed: RoomOut, *user_ids: uuid.UUID) -> None:
        """Each user's sockets get the room as their ``GET /api/rooms`` lists it."""
        for user_id in user_ids:
            self._uow.after_commit(partial(self._events.room_added, user_id, listed))

    async def _tell_members(self, room: Room) -> None:
        """Every member's sockets get the room as it now stands. Read under the room's row
        lock, the members are all there will be: one joining meanwhile waits for the lock,
        then reads this change before it is told of the room (``_as_it_stands``)."""
        listed = await self._as_it_stands(room)
        member_ids = await self._rooms.member_ids(room.id)
        self._uow.after_commit(partial(self._events.room_updated, member_ids, listed))
