"""A sign-in waiting for a hashing slot holds no pooled database connection, so a flood of
them cannot leave the rest of the API without one."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.pool import AsyncAdaptedQueuePool as QueuePool

from parley.core.errors import InvalidCredentials
from parley.db.engine import create_engine, create_read_session_factory, create_session_factory
from parley.db.unit_of_work import UnitOfWork
from parley.security.passwords import PasswordHasherService, VerificationGuard
from parley.security.tokens import AccessTokenCodec
from parley.services.auth import AuthService
from tests.conftest import TEST_SECRET_KEY
from tests.support.waiting import eventually


class HeldHasher(PasswordHasher):
    """Verification waits until the test lets it go: the one hashing slot stays taken."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:  # noqa: A002
        self.entered.set()
        self.release.wait(timeout=30)
        return super().verify(hash, password)


class CountedPasswords(PasswordHasherService):
    """Counts the verifications asked for: each one's sign-in is past its read by then."""

    def __init__(self, hasher: PasswordHasher, *, slots: int) -> None:
        super().__init__(hasher, slots=slots)
        self.asked = 0

    async def verify(
        self, password_hash: str | None, password: str, guard: VerificationGuard | None = None
    ) -> bool:
        self.asked += 1
        return await super().verify(password_hash, password, guard)


async def test_sign_ins_waiting_for_a_slot_hold_no_connection(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=4)
    hasher = HeldHasher()
    passwords = CountedPasswords(hasher, slots=1)
    codec = AccessTokenCodec(TEST_SECRET_KEY, 900)

    async def sign_in() -> None:
        async with UnitOfWork(create_session_factory(engine)) as uow:
            service = AuthService(
                uow,
                reads=create_read_session_factory(engine),
                passwords=passwords,
                access_tokens=codec,
                refresh_ttl_seconds=3600,
            )
            await service.login("nobody", "wrong password")

    attempts = [asyncio.create_task(sign_in()) for _ in range(4)]
    try:
        await asyncio.to_thread(hasher.entered.wait, 30)
        await eventually(lambda: passwords.asked == 4, what="every sign-in at the slot's queue")
        # One verifies (in a thread), three wait for the slot: none holds a connection.
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0
    finally:
        hasher.release.set()
        for outcome in await asyncio.gather(*attempts, return_exceptions=True):
            assert isinstance(outcome, InvalidCredentials)
        await engine.dispose()
