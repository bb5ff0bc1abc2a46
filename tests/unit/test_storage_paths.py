"""Files handed to another process by path: only a local disk gives one, and writes to it
are whole or absent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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

    def full_disk(self: Path, data: bytes) -> int:
        with self.open("wb") as file:
            file.write(data[:3])  # a part reaches the disk, then the write fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space"):
        replace_file(path, b"replacement")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["abc"]
