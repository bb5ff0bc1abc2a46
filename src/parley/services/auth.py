"""Registration, sign-in and the refresh-token lifecycle (rotation and reuse detection)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from parley.core.errors import (
    InvalidCredentials,
    NotAuthenticated,
    RefreshTokenReused,
    UsernameTaken,
)
from parley.db.engine import SessionFactory
from parley.db.models import RefreshToken, User
from parley.db.unit_of_work import UnitOfWork
from parley.repositories.refresh_tokens import RefreshTokenRepository
from parley.repositories.users import UserRepository
from parley.security.passwords import PasswordHasherService, VerificationGuard
from parley.security.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token

__all__ = ["AuthService", "IssuedTokens"]


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


class AuthService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        reads: SessionFactory,
        passwords: PasswordHasherService,
        access_tokens: AccessTokenCodec,
        refresh_ttl_seconds: int,
    ) -> None:
        self._users = UserRepository(uow.session)
        self._refresh_tokens = RefreshTokenRepository(uow.session)
        self._session = uow.session
        self._reads = reads
        self._passwords = passwords
        self._access_tokens = access_tokens
        self._refresh_ttl = timedelta(seconds=refresh_ttl_seconds)

    async def register(self, username: str, password: str, display_name: str | None) -> User:
        # Hashed before the database is touched: a registration waiting for its hashing slot
        # holds no pooled connection (a flood of them would leave none for anyone else).
        password_hash = await self._passwords.hash(password)
        if await self._users.by_username(username) is not None:
            raise UsernameTaken
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=password_hash,
        )
        try:
            # A savepoint, so that losing a race to the same name leaves the transaction usable.
            async with self._session.begin_nested():
                await self._users.add(user)
        except IntegrityError as error:
            raise UsernameTaken from error
        return user

    async def login(
        self, username: str, password: str, limits: VerificationGuard | None = None
    ) -> IssuedTokens:
        """``limits`` may refuse the attempt (before any work) and counts it if it fails."""
        if limits is not None:
            await limits.admit()  # again in the hashing slot: this spares a refused flood the read
        # Read in a session of its own, closed before the wait for a hashing slot: a flood
        # of sign-ins waiting there holds no pooled connection (the unit of work's session
        # takes one only to store the new refresh token).
        async with self._reads() as session:
            user = await UserRepository(session).by_username(username.lower())
        # Verified even for an unknown user (against a dummy hash): both failures look alike.
        valid = await self._passwords.verify(user.password_hash if user else None, password, limits)
        if user is None or not valid:
            raise InvalidCredentials
        return await self._issue(user.id, family_id=uuid.uuid4())

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        now = datetime.now(UTC)
        stored = await self._refresh_tokens.by_hash_for_update(hash_refresh_token(refresh_token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise NotAuthenticated("The refresh token is invalid, expired or revoked.")
        if stored.spent_at is not None:
            # Someone replays a rotated token: the thief or the owner holds a copy. End the
            # whole login so that neither can go on with it.
            await self._refresh_tokens.revoke_family(stored.family_id, now)
            raise RefreshTokenReused
        stored.spent_at = now
        return await self._issue(stored.user_id, family_id=stored.family_id)

    async def logout(self, refresh_token: str) -> None:
        stored = await self._refresh_tokens.by_hash_for_update(hash_refresh_token(refresh_token))
        if stored is not None:
            await self._refresh_tokens.revoke_family(stored.family_id, datetime.now(UTC))

    async def _issue(self, user_id: uuid.UUID, *, family_id: uuid.UUID) -> IssuedTokens:
        now = datetime.now(UTC)
        refresh_token = new_refresh_token()
        await self._refresh_tokens.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh_token),
                expires_at=now + self._refresh_ttl,
            )
        )
        return IssuedTokens(
            access_token=self._access_tokens.issue(user_id, now=now),
            refresh_token=refresh_token,
            expires_in=self._access_tokens.ttl_seconds,
        )
