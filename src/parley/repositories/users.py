from __future__ import annotations

from sqlalchemy import select

from parley.db.models import User
from parley.repositories.base import Repository

__all__ = ["UserRepository"]


class UserRepository(Repository[User]):
    model = User

    async def by_username(self, username: str) -> User | None:
        if "\x00" in username:
            # No username holds NUL, and PostgreSQL refuses it in a query: simply unknown.
            return None
        return await self.session.scalar(select(User).where(User.username == username))
