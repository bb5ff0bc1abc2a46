"""One socket's session: how its receive loop ends.

The session runs against stand-ins for what it touches (a WebSocket whose client sent a burst
of frames, and the parts of the app's state a ping or an ``auth`` frame uses), so that a test
can hold the client's socket still at an exact point (``tests/support/sockets.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from starlette.websockets import WebSocketState

from parley.api.socket_session import SocketSession
from parley.composition.state import AppState
from parley.core.settings import Settings
from parley.db.models import User
from parley.observability.metrics import Metrics
from parley.realtime.connection import CLOSE_TRY_AGAIN_LATER, Connection
from parley.realtime.hub import Hub
from parley.realtime.memory_broker import MemoryBroker
from parley.schemas.messages import SenderOut
from parley.security.tokens import AccessTokenCodec
from tests.conftest import TEST_SECRET_KEY
from tests.support.sockets import Socket, StoredRoom

QUEUE = 16  # the smallest outbox the settings allow


class _ClientFrames:
    """The server's end of a WebSocket: the frames the client sent, and how it was closed."""

    def __init__(self, frames: list[str]) -> None:
        self.scope: dict[str, Any] = {}
        self.application_state = WebSocketState.CONNECTED
        self.closed_with: int | None = None
        self._frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for text in frames:
            self._frames.put_nowait({"type": "websocket.receive", "text": text})

    async def receive(self) -> dict[str, Any]:
        return await self._frames.get()

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code


class _NoPresence:
    async def connected(self, connection: Connection, sender: SenderOut) -> None:
        pass

    async def disconnected(self, connection: Connection, sender: SenderOut) -> None:
        pass


@dataclass
class _SessionState:
    """What of ``AppState`` a socket needs to authenticate, ping and re-authenticate."""

    access_tokens: AccessTokenCodec = field(
        default_factory=lambda: AccessTokenCodec(TEST_SECRET_KEY, ttl_seconds=900)
    )
    history: StoredRoom = field(default_factory=lambda: StoredRoom(last=0))
    hub: Hub = field(default_factory=lambda: Hub(MemoryBroker(), StoredRoom(last=0), namespace="t"))
    presence: _NoPresence = field(default_factory=_NoPresence)
    metrics: Metrics = field(default_factory=Metrics)
    settings: Settings = field(default_factory=lambda: Settings(ws_send_queue=QUEUE))


async def test_a_fresh_token_does_not_reopen_a_socket_closed_for_being_too_slow() -> None:
    state = _SessionState()
    account = User(
        id=uuid.uuid4(),
        username="alice",
        display_name="Alice",
        password_hash="-",
        created_at=datetime.now(UTC),
    )
    token = state.access_tokens.issue(account.id)
    # The client stopped reading after sending one ping too many for its outbox, then its
    # token refresh: the server reads the buffered frames one after the other, no pause
    # between them.
    frames = ['{"type": "ping"}'] * (QUEUE + 1) + [f'{{"type": "auth", "token": "{token}"}}']
    websocket = _ClientFrames(frames)
    client = Socket(direct=False)
    client.open.clear()
    session = SocketSession(
        cast("AppState", state),
        cast("Any", websocket),
        client.send,
        account,
        state.access_tokens.decode(token),
    )
    async with asyncio.timeout(5):  # it used to run on, closed but never closing
        await session.run()
    assert session.connection.close_code == CLOSE_TRY_AGAIN_LATER
    assert websocket.closed_with == CLOSE_TRY_AGAIN_LATER
