"""Running Parley for real: the production server class in this process, on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from parley.core.settings import Settings
from parley.server import build_server
from tests.support.waiting import eventually

__all__ = ["serve_in_process", "serving"]


@contextlib.asynccontextmanager
async def serve_in_process(settings: Settings) -> AsyncIterator[str]:
    """Serve Parley with ``settings`` on 127.0.0.1 and yield its base URL."""
    async with serving(build_server(settings, log_level="warning")) as url:
        yield url


@contextlib.asynccontextmanager
async def serving(server: uvicorn.Server) -> AsyncIterator[str]:
    """Run ``server`` on a free port of 127.0.0.1 and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))

    def started() -> bool:
        if task.done():
            task.result()  # raises what stopped the server
            msg = "the server stopped before it started"
            raise RuntimeError(msg)
        return server.started

    try:
        await eventually(started, within=60, what="the server started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
