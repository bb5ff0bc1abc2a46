"""The Storage contract, on the local filesystem and in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.storage import LocalStorage, MemoryStorage, Storage, StorageKeyError


@pytest.fixture(params=["local", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return MemoryStorage()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_write_then_read_and_stream(storage: Storage) -> None:
    assert await storage.write("uploads/abc", _chunks(b"hello ", b"world")) == 11
    assert await storage.read("uploads/abc") == b"hello world"
    assert b"".join([chunk async for chunk in storage.stream("uploads/abc")]) == b"hello world"
    assert await storage.exists("uploads/abc")


async def test_a_write_replaces(storage: Storage) -> None:
    await storage.write("uploads/abc", _chunks(b"first"))
    await storage.write("uploads/abc", _chunks(b"second"))
    assert await storage.read("uploads/abc") == b"second"


async def test_a_failed_write_leaves_nothing(storage: Storage) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await storage.write("uploads/broken", failing())
    assert not await storage.exists("uploads/broken")


async def test_delete_and_missing(storage: Storage) -> None:
    await storage.write("uploads/gone", _chunks(b"x"))
    await storage.delete("uploads/gone")
    await storage.delete("uploads/gone")  # twice is fine
    assert not await storage.exists("uploads/gone")
    with pytest.raises(FileNotFoundError):
        await storage.read("uploads/gone")


@pytest.mark.parametrize("key", ["../etc/passwd", "uploads/../../x", "/abs", "Up/Per", "a//b", ""])
async def test_keys_cannot_escape(storage: Storage, key: str) -> None:
    with pytest.raises(StorageKeyError):
        await storage.write(key, _chunks(b"x"))
