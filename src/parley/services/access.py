"""The checks a request or a socket makes before anything else: whose token it is, and
whether they may see a room. Each runs in the caller's session (often a read-only one)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.errors import NotAuthenticated, NotFound
from parley.db.models import User
from parley.repositories.rooms import RoomRepository
from parley.repositories.users import UserRepository

__all__ = ["account_of", "require_member"]


async def account_of(session: AsyncSession, user_id: uuid.UUID) -> User:
    """The account a verified access token names; ``NotAuthenticated`` once it is gone."""
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotAuthenticated("The account behind this token no longer exists.")
    return user


async def require_member(session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """``NotFound``, as for a room that does not exist, unless the user is a member."""
    if not await RoomRepository(session).is_member(room_id, user_id):
        raise NotFound("No such room.")
