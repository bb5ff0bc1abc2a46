"""Request bodies and headers are bounded in size and in time (``api/body_limit.py`` and
``http_protocol.py``), with the contract's error body, and a client still sending gets to read
the answer. The limits are set small here; the database plays no part (SQLite only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.core.settings import Settings
from tests.support.databases import copy_sqlite
from tests.support.factories import Account, create_account, create_room
from tests.support.raw_clients import RawConnection, RawResponse
from tests.support.servers import serve_in_process

KIB = 1024
MAX_BODY = 64 * KIB
MAX_UPLOAD = 512 * KIB
TIMEOUT = 1.0
# How late after its deadline the server may cut a slow client off (a loaded machine).
MARGIN = 4.0


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    await RawConnection.close_all()


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "parley.db"
    copy_sqlite(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    bounded = settings.model_copy(
        update={
            "max_body_bytes": MAX_BODY,
            "max_upload_bytes": MAX_UPLOAD,
            "header_timeout": TIMEOUT,
            "body_timeout": TIMEOUT,
            "upload_min_rate": 32 * KIB,
        }
    )
    async with serve_in_process(bounded) as url:
        yield url


@pytest.fixture
async def api(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
async def member(api: httpx.AsyncClient) -> tuple[Account, str]:
    account = await create_account(api)
    return account, (await create_room(api, account))["id"]


def _upload_body(size: int) -> bytes:
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    return head + b"a" * size + b"\r\n--B--\r\n"


FORM = {"content-type": "multipart/form-data; boundary=B"}


# --- size ---------------------------------------------------------------------------------------


async def test_a_declared_body_over_the_limit_is_413_and_the_sender_reads_it(
    api: httpx.AsyncClient,
) -> None:
    # httpx sends the whole megabyte before it reads: the server drops what it does not
    # read, rather than reset a connection the answer is on.
    answer = await api.post(
        "/api/auth/login", content=b" " * 1024 * KIB, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "too_large",
        "detail": f"The request body may be at most {MAX_BODY} bytes.",
    }
    assert (await api.get("/healthz")).status_code == 200


async def test_a_chunked_body_over_the_limit_is_cut_off(api: httpx.AsyncClient) -> None:
    async def endless() -> AsyncIterator[bytes]:
        yield b"{"
        for _ in range(64):
            yield b" " * 16 * KIB

    answer = await api.post(
        "/api/auth/register", content=endless(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


async def test_a_form_over_the_limit_is_413_not_spooled(api: httpx.AsyncClient) -> None:
    body = b'--B\r\nContent-Disposition: form-data; name="username"\r\n\r\n' + b"a" * 256 * KIB
    answer = await api.post("/api/auth/token", content=body, headers=FORM)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


async def test_an_upload_has_a_limit_of_its_own(
    api: httpx.AsyncClient, member: tuple[Account, str]
) -> None:
    account, room_id = member
    headers = {**account.headers, **FORM}
    url = f"/api/rooms/{room_id}/uploads"
    accepted = await api.post(url, content=_upload_body(4 * MAX_BODY), headers=headers)
    assert accepted.status_code == 202, accepted.text
    refused = await api.post(url, content=_upload_body(MAX_UPLOAD + 1), headers=headers)
    assert refused.status_code == 413


# --- time ---------------------------------------------------------------------------------------


async def _slow_request(url: str, head: bytes, trickle: bytes) -> tuple[RawResponse | None, bool]:
    """Send ``head``, then ``trickle`` a byte every 0.2 s: the server's answer (None if it
    gave none) and whether it closed the connection within its deadline and the margin."""
    connection = await RawConnection.open(url)
    assert await connection.write(head)

    async def trickling() -> None:
        for byte in trickle:
            if not await connection.write(bytes([byte])):
                return
            await asyncio.sleep(0.2)

    sending = asyncio.create_task(trickling())
    closed = await connection.wait_closed(TIMEOUT + MARGIN)
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    connection.close()
    try:
        return await connection.response(within=0), closed
    except ConnectionError:
        return None, closed


async def test_headers_that_trickle_in_are_cut_off(url: str) -> None:
    answer, closed = await _slow_request(url, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 99)
    assert closed
    assert answer is not None
    assert answer.status == 408
    assert json.loads(answer.body)["error"] == "request_timeout"
    silent, closed = await _slow_request(url, b"", b"")
    assert closed
    assert silent is None


async def test_a_body_that_trickles_in_is_408(url: str) -> None:
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    answer, closed = await _slow_request(url, head, b'{"username": "' + b"a" * 85)
    assert closed
    assert answer is not None
    assert answer.status == 408
    assert answer.headers["connection"] == "close"
    assert json.loads(answer.body) == {
        "error": "request_timeout",
        "detail": "The body took over 1 s to arrive.",
    }


async def test_an_upload_may_take_longer_at_a_steady_rate(
    api: httpx.AsyncClient, member: tuple[Account, str]
) -> None:
    """Three times the body timeout, at well over the minimum rate: let through."""
    account, room_id = member

    async def steady() -> AsyncIterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        for _ in range(6):
            yield b"a" * 64 * KIB
            await asyncio.sleep(TIMEOUT / 2)
        yield b"\r\n--B--\r\n"

    answer = await api.post(
        f"/api/rooms/{room_id}/uploads", content=steady(), headers={**account.headers, **FORM}
    )
    assert answer.status_code == 202, answer.text


async def test_a_body_nobody_reads_is_dropped_after_the_body_timeout(
    url: str, member: tuple[Account, str]
) -> None:
    """The app answers without reading (401 before an upload); the rest, trickling in, is
    read and dropped only until the body timeout, then the connection closes."""
    _, room_id = member
    head = (
        f"POST /api/rooms/{room_id}/uploads HTTP/1.1\r\nHost: t\r\n"
        "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    answer, closed = await _slow_request(url, head, b"a" * 100)
    assert answer is not None
    assert answer.status == 401
    assert closed
