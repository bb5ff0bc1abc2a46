from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from parley.db.models import RefreshToken
from parley.repositories.base import Repository

__all__ = ["RefreshTokenRepository"]


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        # The row lock makes two concurrent refreshes with one token see each other:
        # the second finds it spent and treats it as reuse.
        statement = (
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
        return await self.session.scalar(statement)

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
