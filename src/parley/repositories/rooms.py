from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from parley.db.models import Membership, Room, User
from parley.repositories.base import Repository

__all__ = ["RoomRepository"]


class RoomRepository(Repository[Room]):
    model = Room

    async def visible_to(self, room_id: uuid.UUID, user_id: uuid.UUID) -> Room | None:
        """The room if the user is a member of it; for anyone else it does not exist."""
        statement = (
            select(Room)
            .join(Membership, Membership.room_id == Room.id)
            .where(Room.id == room_id, Membership.user_id == user_id)
        )
        return await self.session.scalar(statement)

    async def of_member(self, user_id: uuid.UUID) -> Sequence[Room]:
        statement = (
            select(Room)
            .join(Membership, Membership.room_id == Room.id)
            .where(Membership.user_id == user_id)
            .order_by(Room.created_at, Room.id)
        )
        return (await self.session.scalars(statement)).all()

    async def public(self, limit: int = 500) -> Sequence[Room]:
        statement = (
            select(Room)
            .where(Room.is_private.is_(False))
            .order_by(Room.created_at, Room.id)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def by_direct_key(self, direct_key: str) -> Room | None:
        return await self.session.scalar(select(Room).where(Room.direct_key == direct_key))

    async def add_direct(self, room: Room) -> bool:
        """Insert a direct room; False when another request made the pair's room first."""
        try:
            async with self.session.begin_nested():
                self.session.add(room)
        except IntegrityError:
            return False
        return True

    async def members(self, room_id: uuid.UUID) -> Sequence[User]:
        statement = (
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.room_id == room_id)
            .order_by(Membership.joined_at, User.username)
        )
        return (await self.session.scalars(statement)).all()

    async def member_ids(self, room_id: uuid.UUID) -> Sequence[uuid.UUID]:
        statement = select(Membership.user_id).where(Membership.room_id == room_id)
        return (await self.session.scalars(statement)).all()

    async def is_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        statement = select(Membership.user_id).where(
            Membership.room_id == room_id, Membership.user_id == user_id
        )
        return await self.session.scalar(statement) is not None

    async def add_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Add a membership; False (and nothing changed) when it already existed."""
        if await self.is_member(room_id, user_id):
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(Membership(room_id=room_id, user_id=user_id))
        except IntegrityError:
            return False  # a concurrent request added it first
        return True

    async def remove_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(Membership).where(Membership.room_id == room_id, Membership.user_id == user_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def longest_member(self, room_id: uuid.UUID) -> uuid.UUID | None:
        statement = (
            select(Membership.user_id)
            .where(Membership.room_id == room_id)
            .order_by(Membership.joined_at)
            .limit(1)
        )
        return await self.session.scalar(statement)

    async def set_owner(self, room_id: uuid.UUID, owner_id: uuid.UUID | None) -> None:
        await self.session.execute(update(Room).where(Room.id == room_id).values(owner_id=owner_id))

    async def rooms_for_presence(self, user_id: uuid.UUID, max_members: int) -> Sequence[uuid.UUID]:
        """The user's rooms small enough to carry presence events."""
        mine = select(Membership.room_id).where(Membership.user_id == user_id)
        statement = (
            select(Membership.room_id)
            .where(Membership.room_id.in_(mine))
            .group_by(Membership.room_id)
            .having(func.count() <= max_members)
        )
        return (await self.session.scalars(statement)).all()

    async def last_seq_if_member(self, room_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        """The room's last seq if the user is a member of it, else None: one statement, so
        both are read at one instant (a socket's subscription starts from it)."""
        statement = (
            select(Room.last_seq)
            .join(Membership, Membership.room_id == Room.id)
            .where(Room.id == room_id, Membership.user_id == user_id)
        )
        last_seq: int | None = await self.session.scalar(statement)
        return last_seq

    async def last_seqs(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        rows = await self.session.execute(
            select(Room.id, Room.last_seq).where(Room.id.in_(room_ids))
        )
        return {row.id: row.last_seq for row in rows}
