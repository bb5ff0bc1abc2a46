"""uvicorn's sans-I/O WebSocket protocol, with what Parley needs of it on top.

- A frame written at once: the ``parley.websocket.write_now`` scope extension
  (``realtime/direct_write.py`` says why fan-out wants it). It is offered only on a socket
  without compression, for the frames it writes are encoded once for every socket.
- Reading waits while writing does. uvicorn stops reading only while a data frame waits for
  the app; a ping is answered at once, written whether or not the client reads. A client that
  sends pings and reads no pong made the server buffer every pong (hundreds of MB from a few
  sockets). Here the transport stops reading while its writes are over their high-water
  mark, whatever the frames, before and after ``auth``; and a client that reads nothing for
  ``write_stall_timeout`` seconds is dropped, for closing it politely would wait on it.
- A refusal sent as an HTTP response (``websocket.http.response``, a 429 at the handshake)
  completes the handshake: uvicorn would log "ASGI callable returned without completing
  handshake" at ERROR for each one.
- A client that left while the app was writing to it (its ``ready`` frame, a close) is no
  server fault: Starlette raises ``WebSocketDisconnect`` to the app, which uvicorn would log
  with its traceback at ERROR; it is one INFO line here.

It reads and sets uvicorn's internals (``app``, ``read_paused``, ``queue``, ``writable``,
``initial_response``, ``handshake_complete``, ``close_sent``, ``disconnected``, and the
methods it overrides): pyproject.toml pins uvicorn to
the releases they were read from, and ``tests/unit/test_uvicorn_internals.py`` fails when they
change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.websockets import WebSocketDisconnect
from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.protocol import State

from parley.realtime.direct_write import WRITE_NOW

__all__ = ["DirectWriteProtocol"]

log = logging.getLogger(__name__)

# Read once: looking a member up on its enum class costs as much as the rest of the checks.
_OPEN = State.OPEN


class DirectWriteProtocol(WebSocketsSansIOProtocol):
    # Seconds a client may leave everything unread (writes paused throughout) before it is
    # dropped: a slow client reads some and resumes the writes long before.
    write_stall_timeout = 30.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.writes_backed_up = False
        self._stall_timer: asyncio.TimerHandle | None = None

    # uvicorn's run_asgi calls ``self.app``: the app, as run here. (A property rather than an
    # attribute holding the bound method, which would make each protocol a reference cycle.)
    @property
    def app(self) -> ASGI3Application:
        return self._run_app

    @app.setter
    def app(self, app: ASGI3Application) -> None:
        self._parley_app = app

    async def _run_app(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        try:
            await self._parley_app(scope, receive, send)
        except WebSocketDisconnect:
            if not (self.disconnected or self.transport.is_closing()):
                raise
            log.info("the client left while its socket was being answered")

    async def run_asgi(self) -> None:
        # The handshake request is parsed and its extensions negotiated by now.
        if not self.conn.extensions:
            self.scope["extensions"][WRITE_NOW] = {"write": self.write_now}
        await super().run_asgi()

    def write_now(self, frame: bytes) -> bool:
        """Write ``frame`` if the socket is open and its transport takes more without
        waiting; otherwise write nothing: ``send`` waits for the transport, or raises."""
        if (
            self.conn.state is _OPEN
            and not self.close_sent
            and self.writable.is_set()
            and not self.transport.is_closing()
        ):
            self.transport.write(frame)
            return True
        return False

    # --- reading waits while writing does -----------------------------------------------------

    def pause_writing(self) -> None:
        """The transport's writes passed their high-water mark: read nothing more (not even
        pings, whose pongs would pile up) until the client has read some."""
        super().pause_writing()
        self.writes_backed_up = True
        self.transport.pause_reading()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(
                self.write_stall_timeout, self._drop_stalled_client
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        self.writes_backed_up = False
        self._cancel_stall_timer()
        if not self.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()  # unless a data frame still waits for the app

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.writes_backed_up and not self.transport.is_closing():
            # uvicorn resumes reading as it sends a close; nothing more is read meanwhile.
            self.transport.pause_reading()

    async def receive(self) -> ASGIReceiveEvent:
        # uvicorn's, but for the condition: reading resumes once the app has taken the
        # queued frames *and* the writes are not backed up.
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            if not self.writes_backed_up:
                self.transport.resume_reading()
        return message

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall_timer()
        super().connection_lost(exc)

    def _drop_stalled_client(self) -> None:
        self._stall_timer = None
        log.info(
            "dropped a WebSocket client that read nothing for %.0f s", self.write_stall_timeout
        )
        self.transport.abort()

    def _cancel_stall_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    # --- a refusal completes the handshake ----------------------------------------------------

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if self.initial_response is not None and self.close_sent:
            # The refusal's response is written whole and the connection closing: as far as
            # the handshake goes, it is done (uvicorn's 403 for a close says as much).
            self.handshake_complete = True
