"""Files handed to another process by path: only a local disk gives one, and writes to it
are whole or absent."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import parley.storage as storage_module
from parley.storage import LocalStorage, MemoryStorage, StorageKeyError, replace_file


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_a_local_path_is_where_the_storage_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = LocalStorage(Path("files"))  # relative, as the default data dir is
    await storage.write("uploads/abc", _once(b"photo"))
    path = storage.local_path("uploads/abc")
    assert path.is_absolute()
    assert path.read_bytes() == b"photo"


async def test_memory_gives_no_path_and_checks_the_key() -> None:
    storage = MemoryStorage()
    assert storage.local_path("uploads/abc") is None
    with pytest.raises(StorageKeyError):
        storage.local_path("../etc/passwd")


def test_keys_cannot_escape_through_a_local_path(tmp_path: Path) -> None:
    with pytest.raises(StorageKeyError):
        LocalStorage(tmp_path).local_path("uploads/../../etc/passwd")


def test_replace_file_replaces_whole(tmp_path: Path) -> None:
    path = tmp_path / "uploads" / "abc"
    replace_file(path, b"first")
    replace_file(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["abc"]


def test_a_failed_replace_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "abc"
    replace_file(path, b"previous")
    open_private = storage_module._open_private

    class FullDisk:
        """A file on a disk that fills up: a part reaches it, then the write fails."""

        def __init__(self, partial: Path) -> None:
            self._file = open_private(partial)

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *_: object) -> None:
            self._file.close()

        def write(self, data: bytes) -> int:
            self._file.write(data[:3])
            self._file.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage_module, "_open_private", FullDisk)
    with pytest.raises(OSError, match="No space"):
        replace_file(path, b"replacement")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["abc"]


async def test_files_and_directories_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual one: 0644 files, 0755 directories
    try:
        storage = LocalStorage(tmp_path / "files")
        await storage.write("uploads/abc", _once(b"photo"))
        replace_file(tmp_path / "files" / "uploads" / "abc.thumb.webp", b"thumbnail")
    finally:
        os.umask(previous)
    modes = {
        str(path.relative_to(tmp_path)): stat.S_IMODE(path.stat().st_mode)
        for path in tmp_path.rglob("*")
    }
    assert modes == {
        "files": 0o700,
        "files/uploads": 0o700,
        "files/uploads/abc": 0o600,
        "files/uploads/abc.thumb.webp": 0o600,
    }
