"""Running the app under uvicorn, with Parley's WebSocket settings and shutdown order."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from parley.app import create_app
from parley.core.logging import logging_config
from parley.core.settings import Settings
from parley.http_protocol import bounded_http_protocol
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER
from parley.server_protocol import DirectWriteProtocol

__all__ = ["ParleyServer", "build_server"]


class ParleyServer(uvicorn.Server):
    """Closes Parley's sockets with 1013 ("try again later": reconnect elsewhere and
    resume) before uvicorn's own shutdown, which would close them with 1012."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        hub = getattr(self._app.state, "hub", None)
        if hub is not None:
            await hub.close_all(CLOSE_TRY_AGAIN_LATER, "server shutting down")
        await super().shutdown(sockets)


def build_server(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> ParleyServer:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=logging_config(log_level.upper()),
        # X-Forwarded-For (and -Proto) only from PARLEY_TRUSTED_PROXIES; the client is the
        # right-most address there that is not one of them. Given explicitly, so that uvicorn's
        # own default (127.0.0.1, or FORWARDED_ALLOW_IPS) never applies.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=[str(network) for network in settings.trusted_proxies],
        # httptools (uvicorn's fastest), with deadlines for a request's headers and for the
        # unread rest of a body the app answered early.
        http=bounded_http_protocol(
            header_timeout=settings.header_timeout, unread_body_timeout=settings.body_timeout
        ),
        # uvicorn's sans-I/O websockets protocol (of its three, the least CPU per frame sent,
        # about half of wsproto's or the legacy one's), offering frames written at once, and
        # reading nothing while its writes are backed up.
        ws=DirectWriteProtocol,
        ws_max_size=settings.ws_max_frame_bytes,
        # Compression costs each socket tens of KiB of zlib state; chat frames are small.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
        # No `server: uvicorn` on every answer: what runs here is nobody else's business.
        server_header=False,
    )
    return ParleyServer(config, app)
