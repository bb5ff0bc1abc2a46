"""Argon2id password hashes, computed off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
import os
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["PasswordHasherService", "VerificationGuard"]


def _cores() -> int:
    """The cores this process may run on (its affinity, where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class VerificationGuard(Protocol):
    """Consulted while a verification holds its slot, so that parallel attempts are counted
    one after the other rather than all let in against the same count."""

    async def admit(self) -> None:
        """Raise to refuse the attempt before its password is verified."""
        ...

    async def failed(self) -> None:
        """The password was wrong."""
        ...


class PasswordHasherService:
    """Hashes and verifies passwords in worker threads (argon2 releases the GIL).

    Each computation takes 64 MiB and most of a core, so at most one per core runs at once
    (``slots``), and new hashes (registrations) take at most half of the slots: a flood of
    registrations queues behind its own half while sign-ins go on in the other, rather than
    every sign-in queueing behind the whole flood in the thread pool.

    A login for an unknown user verifies against a dummy hash, so that it takes as long
    as a wrong password and response times do not reveal which usernames exist.
    """

    def __init__(self, hasher: PasswordHasher | None = None, *, slots: int | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash = self._hasher.hash("parley-dummy-password")
        slots = slots or _cores()
        self._slots = asyncio.Semaphore(slots)
        self._hash_slots = asyncio.Semaphore(max(1, slots // 2))

    async def hash(self, password: str) -> str:
        # The hash's own half first: waiting registrations never stand in the shared queue.
        async with self._hash_slots, self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(
        self, password_hash: str | None, password: str, guard: VerificationGuard | None = None
    ) -> bool:
        async with self._slots:
            if guard is not None:
                await guard.admit()
            valid = await asyncio.to_thread(self._verify, password_hash, password)
            if not valid and guard is not None:
                await guard.failed()
            return valid

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False
