"""``parley serve``'s WebSocket protocol reads nothing while its writes are backed up, so a
client that sends and never reads is held to a bound; it reads again once the client does,
and drops a client that reads nothing at all for long."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from parley.core.settings import Settings
from parley.server import ParleyServer, build_server
from parley.server_protocol import DirectWriteProtocol
from tests.support.factories import create_account
from tests.support.raw_clients import RawConnection, ping_frame, text_frame
from tests.support.servers import serving
from tests.support.waiting import eventually

PINGS = ping_frame() * 1000
# What a socket's transport may hold: its high-water mark (64 KiB), then the pongs to what
# one read brought (at most 256 KiB), with room to spare.
WRITE_BUFFER_BOUND = 1024 * 1024


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    await RawConnection.close_all()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[tuple[ParleyServer, str]]:
    server = build_server(settings, log_level="warning")
    async with serving(server) as url:
        yield server, url


def _socket_write_buffers(server: ParleyServer) -> list[int]:
    return [
        protocol.transport.get_write_buffer_size()
        for protocol in server.server_state.connections
        if isinstance(protocol, DirectWriteProtocol)
    ]


async def _socket(url: str, token: str | None = None) -> RawConnection:
    connection = await RawConnection.open(url, receive_buffer=4096)
    assert (await connection.upgrade_to_websocket()).status == 101
    if token is not None:
        assert await connection.write(text_frame(json.dumps({"type": "auth", "token": token})))
        assert json.loads(await connection.frame_text())["type"] == "ready"
    return connection


async def test_pings_not_read_stop_the_reading_before_and_after_auth(
    server: tuple[ParleyServer, str],
) -> None:
    parley, url = server
    async with httpx.AsyncClient(base_url=url) as api:
        account = await create_account(api)
    sockets = [await _socket(url), await _socket(url, account.access_token)]
    for socket in sockets:
        socket.stop_reading()
    flooding = [asyncio.create_task(socket.write_for(PINGS, 60)) for socket in sockets]
    try:
        await eventually(
            lambda: all(socket.write_blocked for socket in sockets),
            within=30,
            what="both clients' writes held up: the server stopped reading",
        )
        buffers = _socket_write_buffers(parley)
    finally:
        for task in flooding:
            task.cancel()
        await asyncio.gather(*flooding, return_exceptions=True)
    assert len(buffers) == 2
    assert max(buffers) < WRITE_BUFFER_BOUND, buffers

    # Once the client reads, so does the server: the pongs drain, and a frame is answered.
    waiting, _ = sockets
    waiting.start_reading()
    auth = {"type": "auth", "token": account.access_token}
    assert await waiting.write(text_frame(json.dumps(auth)))
    async with asyncio.timeout(20):
        while True:
            opcode, payload = await waiting.next_frame()
            if opcode == 0x1:
                assert json.loads(payload)["type"] == "ready"
                break


async def test_a_client_that_reads_nothing_is_dropped(
    server: tuple[ParleyServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DirectWriteProtocol, "write_stall_timeout", 1.0)
    _, url = server
    socket = await _socket(url)
    socket.stop_reading()
    flooding = asyncio.create_task(socket.write_for(PINGS, 30))
    try:
        assert await socket.wait_closed(15)
    finally:
        flooding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flooding
        socket.close()
