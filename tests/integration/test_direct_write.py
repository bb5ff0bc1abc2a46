"""``parley serve``'s WebSocket protocol: the ``write_now`` it offers the app, under a real
uvicorn server and a real client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from websockets.asyncio.client import connect

from parley.realtime.direct_write import WriteNow, text_frame, write_now_of
from parley.server_protocol import DirectWriteProtocol
from tests.support.servers import serving


class App:
    """Accepts one socket, writes a frame with ``write_now``, and closes when told to;
    it notes what ``write_now`` answered at each step."""

    def __init__(self) -> None:
        self.offered = asyncio.get_running_loop().create_future()
        self.answers: dict[str, bool] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        write_now = write_now_of(scope)
        self.offered.set_result(write_now is not None)
        await receive()  # websocket.connect
        if write_now is None:
            await send({"type": "websocket.accept"})
            await receive()
            return
        self._note(write_now, "before accept")
        await send({"type": "websocket.accept"})
        self._note(write_now, "open")
        await receive()  # the client's word to close
        await send({"type": "websocket.close", "code": 1000})
        self._note(write_now, "after close")

    def _note(self, write_now: WriteNow, step: str) -> None:
        self.answers[step] = write_now(text_frame(f"written at once: {step}"))


@contextlib.asynccontextmanager
async def served(app: App, *, compression: bool) -> AsyncIterator[str]:
    """``app`` under uvicorn with Parley's WebSocket protocol; yields the socket's URL."""
    config = uvicorn.Config(
        app,
        ws=DirectWriteProtocol,
        ws_per_message_deflate=compression,
        lifespan="off",
        log_level="warning",
    )
    async with serving(uvicorn.Server(config)) as url:
        yield url.replace("http://", "ws://", 1) + "/"


async def test_an_open_socket_takes_frames_written_at_once_and_a_closed_one_refuses() -> None:
    app = App()
    async with served(app, compression=False) as url, connect(url, compression=None) as client:
        assert await client.recv() == "written at once: open"
        await client.send("close, please")
        await client.wait_closed()
    assert await app.offered
    assert app.answers == {"before accept": False, "open": True, "after close": False}


async def test_a_socket_with_compression_is_offered_nothing() -> None:
    # Frames written at once are encoded once for every socket, uncompressed.
    app = App()
    async with served(app, compression=True) as url, connect(url) as client:
        await client.send("close, please")
    assert not await app.offered
