"""Argon2 work is bounded: new hashes take at most half the slots, and sign-ins are not queued
behind a flood of registrations."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import cast

from argon2 import PasswordHasher

from parley.security.passwords import PasswordHasherService
from tests.support.waiting import eventually

SLOTS = 2


class GatedHasher:
    """Stands in for argon2: every call waits until ``release`` is set, and the most calls of
    each kind running at once is kept."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = {"hash": 0, "verify": 0}
        self.peak = {"hash": 0, "verify": 0}
        self._lock = threading.Lock()
        self._started = False  # the service hashes its dummy password at construction

    @contextlib.contextmanager
    def _call(self, kind: str) -> Iterator[None]:
        with self._lock:
            self.running[kind] += 1
            self.peak[kind] = max(self.peak[kind], self.running[kind])
        try:
            if self._started:
                self.release.wait(10)
            yield
        finally:
            with self._lock:
                self.running[kind] -= 1

    def hash(self, password: str) -> str:
        with self._call("hash"):
            return f"hashed:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        with self._call("verify"):
            return password_hash == f"hashed:{password}"

    def start(self) -> None:
        self._started = True


def _service() -> tuple[PasswordHasherService, GatedHasher]:
    hasher = GatedHasher()
    service = PasswordHasherService(cast("PasswordHasher", hasher), slots=SLOTS)
    hasher.start()
    return service, hasher


async def test_a_flood_of_new_hashes_takes_at_most_half_the_slots() -> None:
    service, hasher = _service()
    hashes = [asyncio.create_task(service.hash(f"password {n}")) for n in range(10)]
    try:
        await eventually(lambda: hasher.running["hash"] >= 1)
        await asyncio.sleep(0.2)  # the others had every chance to start
        assert hasher.peak["hash"] == SLOTS // 2
    finally:
        hasher.release.set()
        await asyncio.gather(*hashes)
    assert hasher.peak["hash"] == SLOTS // 2


async def test_a_sign_in_is_not_queued_behind_waiting_registrations() -> None:
    service, hasher = _service()
    hashes = [asyncio.create_task(service.hash(f"password {n}")) for n in range(10)]
    try:
        await eventually(lambda: hasher.running["hash"] == 1)
        verify = asyncio.create_task(service.verify("hashed:secret", "secret"))
        await eventually(lambda: hasher.running["verify"] == 1)
        assert hasher.running["hash"] == 1  # beside the hash in flight, not after the queue
    finally:
        hasher.release.set()
        await asyncio.gather(*hashes)
    assert await verify


async def test_verifications_take_at_most_every_slot() -> None:
    service, hasher = _service()
    verifies = [asyncio.create_task(service.verify("hashed:x", "x")) for _ in range(10)]
    try:
        await eventually(lambda: hasher.running["verify"] >= 1)
        await asyncio.sleep(0.2)
        assert hasher.peak["verify"] == SLOTS
    finally:
        hasher.release.set()
        assert all(await asyncio.gather(*verifies))
