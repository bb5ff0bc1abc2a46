"""The embedded default as an operator runs it, a real ``parley serve`` process: its data dir
private to its owner, and every line it writes one JSON object, whatever a file holds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil

from tests.support.factories import Account, Json, create_account, create_room, post_message
from tests.support.files import FORGED_LOG_LINE, pdf_forging_a_log_line, png_with_location
from tests.support.logs import json_log_entries
from tests.support.processes import EmbeddedServer
from tests.support.uploads import finished_upload


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    """The most common umask, whatever this machine's: files come out 0644 unless Parley
    says otherwise. A process started meanwhile inherits it."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.asynccontextmanager
async def _embedded(workdir: Path) -> AsyncIterator[tuple[EmbeddedServer, httpx.AsyncClient]]:
    """A running embedded server; once stopped, its helper processes too (the processing
    processes, multiprocessing's resource tracker), so that its log holds all they wrote."""
    server = EmbeddedServer(workdir)
    with _umask(0o022):
        await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield server, client
    finally:
        assert server.instance.process is not None
        helpers = psutil.Process(server.instance.process.pid).children(recursive=True)
        await server.stop()
        _, alive = await asyncio.to_thread(psutil.wait_procs, helpers, 30)
        assert alive == []


async def _upload(
    client: httpx.AsyncClient, account: Account, room_id: str, name: str, data: bytes
) -> Json:
    response = await client.post(
        f"/api/rooms/{room_id}/uploads", files={"file": (name, data)}, headers=account.headers
    )
    assert response.status_code == 202, response.text
    return await finished_upload(client, account, response.json()["id"])


def _modes(root: Path) -> dict[str, int]:
    """Every directory and file under ``root`` (itself included), by relative path."""
    modes = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        modes[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def _expected(modes: dict[str, int], root: Path) -> dict[str, int]:
    return {name: 0o700 if (root / name).is_dir() else 0o600 for name in modes}


async def test_the_data_dir_and_everything_in_it_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with _embedded(tmp_path) as (_, client):
        account = await create_account(client)
        room_id = str((await create_room(client, account))["id"])
        await post_message(client, account, room_id, "nobody else may read this")
        upload = await _upload(client, account, room_id, "p.png", png_with_location())
        assert upload["status"] == "done"
        modes = _modes(data)  # while it runs: the WAL and its index are there now
    stored = f"files/uploads/{upload['id'].replace('-', '')}"
    for name in ("parley.db", "parley.db-wal", "parley.db-shm", "secret_key", stored):
        assert name in modes
    assert f"{stored}.thumb.webp" in modes
    assert {name: oct(mode) for name, mode in modes.items()} == {
        name: oct(mode) for name, mode in _expected(modes, data).items()
    }


async def test_a_data_dir_left_open_is_closed_at_start_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "files" / "uploads").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    (data / "files").chmod(0o755)
    (data / "secret_key").write_text("k" * 64)
    (data / "files" / "uploads" / "0123abcd").write_bytes(b"an old upload")
    for path in (data / "secret_key", data / "files" / "uploads" / "0123abcd"):
        path.chmod(0o644)
    async with _embedded(tmp_path) as (server, _):
        modes = _modes(data)
        log = server.instance.log.read_text()
    assert {name: oct(mode) for name, mode in modes.items()} == {
        name: oct(mode) for name, mode in _expected(modes, data).items()
    }
    [tightened] = [entry for entry in json_log_entries(log) if "tightened" in entry["msg"]]
    assert tightened["level"] == "warning"
    # The data dir, files/, files/uploads/, the key and the old upload.
    assert "tightened 5 " in tightened["msg"]


async def test_every_line_serve_writes_is_json_even_for_a_hostile_pdf(tmp_path: Path) -> None:
    async with _embedded(tmp_path) as (server, client):
        account = await create_account(client)
        room_id = str((await create_room(client, account))["id"])
        name = f"minutes\n{FORGED_LOG_LINE}\n.pdf"
        upload = await _upload(client, account, room_id, name, pdf_forging_a_log_line())
        assert upload["status"] == "done"
    entries = json_log_entries(server.instance.log.read_text())
    assert all(entry["logger"] != "parley.auth" for entry in entries)
    assert any(FORGED_LOG_LINE in entry["msg"] for entry in entries)  # inside a line of ours
    assert any(entry["logger"] == "uvicorn.access" for entry in entries)
