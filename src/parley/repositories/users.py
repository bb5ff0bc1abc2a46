from __future__ import annotations

from sqlalchemy import select

from parley.db.models import User
from parley.repositories.base import Repository

__all__ = ["UserRepository"]


class UserRepository(Repository[User]):
    model = User

    async def by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(User.username == username))
