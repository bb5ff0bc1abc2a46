"""The Storage seam: where uploaded files and thumbnails live.

``LocalStorage`` keeps them under a directory that every instance and worker shares (a
volume). ``MemoryStorage`` keeps them in a dict (tests, throw-away runs). An S3-compatible
store fits the same protocol: keys are opaque, writes take a stream, reads give bytes or a
stream. Keys are made by Parley (``uploads/<uuid>``); no client-chosen name reaches a path.

A storage on this machine's disk also gives a key's path (``local_path``), so that work done
in another process (a preview made in the processing pool) reads and writes the file where it
lies instead of shipping megabytes through a pipe; it writes with ``replace_file``, whole or
not at all, as ``write`` does.

Files on a local disk are private to the user Parley runs as, whatever the umask: each file
is created 0600 and each directory 0700 (``parley.core.private_files``). Every process that
shares the directory (instances, workers) must therefore run as that one user.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

from parley.core.private_files import create_private_file, make_private_dirs

__all__ = ["LocalStorage", "MemoryStorage", "Storage", "StorageKeyError", "replace_file"]

_KEY = re.compile(r"^[a-z0-9]+(/[a-z0-9][a-z0-9._-]*)*$")
CHUNK_SIZE = 256 * 1024


class StorageKeyError(ValueError):
    pass


def _check(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        msg = f"invalid storage key {key!r}"
        raise StorageKeyError(msg)
    return key


class Storage(Protocol):
    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the chunks under ``key`` (replacing it); returns the size written. If the
        iterable raises, nothing is left under ``key``."""
        ...

    async def read(self, key: str) -> bytes: ...

    def stream(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path | None:
        """Where the file under ``key`` lies on this machine, for another process to read
        and replace (with ``replace_file``); None when the storage is not a local disk."""
        ...


def replace_file(path: Path, data: bytes) -> None:
    """Store ``data`` at ``path`` whole or not at all, from any process: readers, and a retry
    after a crash mid-write, find the previous file or the new one, never a part."""
    make_private_dirs(path.parent)
    partial = _partial_path(path)
    try:
        with _open_private(partial) as file:
            file.write(data)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _open_private(path: Path) -> BinaryIO:
    return os.fdopen(create_private_file(path), "wb")


def _partial_path(path: Path) -> Path:
    # Beside the file, so that the rename stays on one file system and is atomic.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / _check(key)

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(key)
        await asyncio.to_thread(make_private_dirs, path.parent)
        partial = _partial_path(path)
        size = 0
        file = await asyncio.to_thread(_open_private, partial)
        try:
            async for chunk in chunks:
                size += len(chunk)
                await asyncio.to_thread(file.write, chunk)
            await asyncio.to_thread(file.close)
            # Readers see the whole file or nothing.
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            file.close()
            partial.unlink(missing_ok=True)
            raise
        return size

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_SIZE):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    def local_path(self, key: str) -> Path:
        # Absolute: the process that uses it may not share this one's working directory.
        return self._path(key).absolute()


class MemoryStorage:
    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        data = b"".join([chunk async for chunk in chunks])
        self._files[_check(key)] = data
        return len(data)

    async def read(self, key: str) -> bytes:
        try:
            return self._files[_check(key)]
        except KeyError:
            raise FileNotFoundError(key) from None

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        data = await self.read(key)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    async def delete(self, key: str) -> None:
        self._files.pop(_check(key), None)

    async def exists(self, key: str) -> bool:
        return _check(key) in self._files

    def local_path(self, key: str) -> Path | None:
        _check(key)
        return None  # its files live in this process's memory alone
